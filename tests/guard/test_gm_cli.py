"""The crypto profile at the command line: `init` under FPCREDIT_CRYPTO, `keys status`,
`keys rotate --profile`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fpcredit.cli import app

runner = CliRunner()


def _cli(home: Path, *args: str, crypto: str = "default") -> tuple[int, str]:
    env = {"FPCREDIT_HOME": str(home), "FPCREDIT_CRYPTO": crypto, "FPCREDIT_LANGUAGE": "en"}
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_init_makes_a_store_in_the_profile_of_the_setting(tmp_path: Path) -> None:
    assert _cli(tmp_path / "gm", "init", crypto="gm")[0] == 0
    code, out = _cli(tmp_path / "gm", "keys", "status", "--json", crypto="gm")
    status = json.loads(out)
    assert code == 0 and (status["profile"], status["algorithm"], status["index"]) == (
        "gm",
        "sm4-gcm",
        "hmac-sm3",
    )
    assert _cli(tmp_path / "aes", "init")[0] == 0
    assert json.loads(_cli(tmp_path / "aes", "keys", "status", "--json")[1])["profile"] == "default"


def test_the_setting_does_not_move_an_existing_store_rotate_profile_does(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _cli(home, "init")
    code, out = _cli(home, "keys", "rotate", crypto="gm")  # without --profile: as before
    assert code == 0 and "FPCREDIT_CRYPTO=gm" in out and "--profile gm" in out, out
    assert (
        json.loads(_cli(home, "keys", "status", "--json", crypto="gm")[1])["profile"] == "default"
    )
    code, out = _cli(home, "keys", "rotate", "--profile", "gm", "--json", crypto="gm")
    report = json.loads(out)
    assert code == 0 and report["profile"] == "gm" and len(report["retired"]) == 1, out
    code, out = _cli(home, "keys", "status", crypto="gm")
    assert code == 0 and "crypto profile gm" in out and "sm4-gcm" in out and "hmac-sm3" in out
    assert "FPCREDIT_CRYPTO" not in out


def test_an_unknown_profile_is_a_one_line_refusal(tmp_path: Path) -> None:
    _cli(tmp_path, "init")
    code, out = _cli(tmp_path, "keys", "rotate", "--profile", "sm9")
    assert code != 0 and "Traceback" not in out and "sm9" in out
