"""A reading process for the 国密 move test: looks persons up in a loop until told to stop.

argv: home, database URL ("" for SQLite), the plan (JSON: each person's ID number, name and the
answers expected), the result file. Prints "ready" once it has read everyone once; stops when
`<result>.stop` exists, then writes how many rounds it read, the person ids it got a different
answer for (never an identifier), and the (profile, moving) states its vault went through.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fpcredit.config import Settings
from fpcredit.guard.auth.identity import Authenticator
from fpcredit.guard.keys.crypto import Vault, load_vault
from fpcredit.link.file import find_persons, person_file
from fpcredit.service import open_ready_store
from fpcredit.store.db import Store


def answers(store: Store, vault: Vault, auth: Authenticator, person: dict[str, Any]) -> Any:
    """What the service answers about one person, as JSON-able values."""
    file = person_file(store, vault, person["person_id"])
    found = auth.citizens.person(person["id_number"])
    return {
        "by_id": find_persons(store, vault, id_number=person["id_number"]),
        "by_name": find_persons(store, vault, name=person["name"]),
        "citizen": None if found is None else list(found),
        "file": None if file is None else [file.name, file.id_number, file.phone, file.address],
    }


def main() -> None:
    home, url, plan, out = sys.argv[1:5]
    settings = Settings(home=Path(home), database_url=url or None)
    store = open_ready_store(settings)
    vault = load_vault(settings.keys_dir)
    auth = Authenticator(store, settings, vault=vault)
    people = json.loads(Path(plan).read_text())
    stop = Path(out + ".stop")
    rounds, misses, seen = 0, set[int](), set[tuple[str | None, bool]]()
    while True:
        for person in people:
            seen.add((vault.profile, vault.moving))
            if answers(store, vault, auth, person) != person["expect"]:
                misses.add(person["person_id"])
        rounds += 1
        if rounds == 1:
            print("ready", flush=True)
        if stop.exists():
            break
    Path(out).write_text(json.dumps({"rounds": rounds, "misses": sorted(misses),
                                     "seen": sorted([p or "", m] for p, m in seen)}))  # fmt: skip


if __name__ == "__main__":
    main()
