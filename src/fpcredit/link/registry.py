"""Trained linkage models: training on the store's own records, saving and finding versions."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import sqlalchemy as sa

from fpcredit.guard.crypto import Vault
from fpcredit.link.config import LinkConfig
from fpcredit.link.features import features
from fpcredit.link.model import LinkModel, train
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
    return None if row is None else LinkModel.from_json(row.version, row.settings)


def train_model(store: Store, vault: Vault, config: LinkConfig, men: pl.DataFrame) -> LinkModel:
    """Estimate a new model version by EM and save it.

    The persons are the groups that share a valid ID number; the sample is drawn from all
    mentions with their ID withheld, so that the model learns how names and dates vary
    between one person's records.
    """
    t = config.training
    grouped = men.filter(pl.col("id_bidx").is_not_null()).with_columns(
        pl.col("id_bidx").rank("dense").cast(pl.Int64).alias("cluster")
    )
    persons = features(person_rows(grouped), vault)
    named = men.filter(pl.col("name_enc").is_not_null())
    sample = named.sample(min(t.sample, named.height), seed=t.seed)
    with_cluster = men.join(grouped.select("id", "cluster"), on="id", how="left")
    mentions = features(mention_rows(with_cluster, sample["id"]), vault)
    model = train(config, persons, mentions)
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
    return LinkModel(version, model)
