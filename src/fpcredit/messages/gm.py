"""The 国密 profile's SM2 note keys (guard/keys/gm.py; docs/keys.md)."""

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "gm.key_name_invalid": (
        "签名密钥名 {name!r} 无效：不能为空，也不能含空白或“+”",
        "note key name {name!r} is invalid: it must be non-empty, without spaces or '+'",
    ),
    "gm.signer_key_malformed": (
        "SM2 签名私钥格式错误（应为 PRIVATE+KEY+名称+密钥号+base64）",
        "the SM2 note signer key is malformed (PRIVATE+KEY+name+id+base64 expected)",
    ),
    "gm.verifier_key_malformed": (
        "SM2 验签公钥格式错误（应为 名称+密钥号+base64）",
        "the SM2 note verifier key is malformed (name+id+base64 expected)",
    ),
    "gm.key_pair_mismatch": (
        "SM2 私钥与公钥不匹配（自检签名未通过）",
        "the SM2 private and public keys do not match (the self-test signature fails)",
    ),
    "gm.key_damaged": ("SM2 签名密钥文件 {name} 已损坏", "the SM2 note key file {name} is damaged"),
}
