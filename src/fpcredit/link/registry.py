"""Trained linkage models: training on the store's own records, saving and finding versions."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import sqlalchemy as sa

from fpcredit.guard.keys.crypto import Vault
from fpcredit.link.config import LinkConfig
from fpcredit.link.features import aligned, features
from fpcredit.link.model import LinkModel, resolve_backend, train
from fpcredit.link.persons import mention_rows, person_rows
from fpcredit.store import schema as s
from fpcredit.store.db import Store, utc_now

__all__ = ["current_model", "train_model"]


def current_model(store: Store, config: LinkConfig) -> LinkModel | None:
    """The newest model trained under this exact settings file, if any."""
    t = s.link_models
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(t.c.version, t.c.settings)
            .where(t.c.config_sha256 == config.sha256)
            .order_by(t.c.created_at.desc(), t.c.version.desc())
            .limit(1)
        ).first()
    return (
        None
        if row is None
        else LinkModel.from_json(row.version, row.settings, backend=resolve_backend(config))
    )


def train_model(store: Store, vault: Vault, config: LinkConfig, men: pl.DataFrame) -> LinkModel:
    """Estimate a new model version by EM and save it.

    The persons are the groups that share a valid ID number; the sample is drawn from their
    mentions with the ID withheld (and from mentions without an ID, in the same proportion),
    so that the model learns how names and dates vary between one person's records. A large
    province trains on a random subset of `training.persons` persons: the m and u
    probabilities do not depend on the population's size, and the prior (one random pair
    being a match) is scaled from the subset to the whole population afterwards.
    """
    t = config.training
    with_id = men.select("id", "id_bidx").filter(pl.col("id_bidx").is_not_null())
    with_id = with_id.with_columns(pl.col("id_bidx").rank("dense").cast(pl.Int64).alias("cluster"))
    everyone = with_id["cluster"].n_unique()
    chosen = pl.Series("cluster", range(1, everyone + 1), pl.Int64)
    if everyone > t.persons:
        chosen = chosen.sample(t.persons, seed=t.seed)
    share = chosen.len() / max(everyone, 1)
    with_id = with_id.filter(pl.col("cluster").is_in(chosen.implode()))
    clustered = aligned(
        men.with_columns(
            pl.col("id")
            .replace_strict(with_id["id"], with_id["cluster"], default=None, return_dtype=pl.Int64)
            .alias("cluster")
        )
    )
    persons = features(person_rows(clustered, vault), vault)
    named = clustered.select("id", "cluster", "id_bidx", "name_enc").filter(
        pl.col("name_enc").is_not_null()
    )
    pool = pl.concat(
        [
            named.filter(pl.col("cluster").is_not_null()),
            named.filter(pl.col("id_bidx").is_null()).sample(fraction=share, seed=t.seed),
        ]
    )
    sample = pool.sample(min(t.sample, pool.height), seed=t.seed)
    mentions = features(mention_rows(clustered, sample["id"]), vault)
    model = train(config, persons, mentions)
    model["probability_two_random_records_match"] *= share
    body = json.dumps(model, sort_keys=True)
    now = utc_now()
    version = f"{now:%Y%m%d%H%M%S}-{hashlib.sha256(body.encode()).hexdigest()[:8]}"
    with store.engine.begin() as conn:
        conn.execute(
            s.link_models.insert().values(
                version=version,
                created_at=now,
                config_sha256=config.sha256,
                link_threshold=config.thresholds.link,
                review_threshold=config.thresholds.review,
                trained_on=sample.height,
                settings=body,
            )
        )
    return LinkModel(version, model, backend=resolve_backend(config))
