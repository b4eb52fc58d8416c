"""Chinese names: surnames with their frequencies, given names by sex and birth cohort, homophones.

Given names are either one of the popular names of the cohort (伟, 芳, 秀英 … 梓涵, 浩宇) or
composed from the cohort's common characters, so that different people share a name (张伟,
王芳) often enough to make linkage on names alone unsafe, as in real registers.

``data/homophones.csv`` is built with pypinyin and stored, so that the output does not change
with pypinyin's version; rebuild it with ``write_homophone_table()``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Final

import numpy as np
import numpy.typing as npt

from fpcredit.synth.rng import Ints, pick

__all__ = [
    "birth_era",
    "build_homophone_table",
    "given_names",
    "homophone",
    "surnames",
    "write_homophone_table",
]

Strs = npt.NDArray[np.str_]
Reading = Callable[[str], str]

# Surname → share per mille (national frequencies, with 陈 林 沈 叶 金 章 应 楼 俞 raised for 浙江).
_SURNAMES: Final = (
    "王71 李70 张67 刘51 陈55 杨32 黄24 赵22 吴25 周22 徐20 孙14 马13 朱15 胡14 郭11 何11 林14 "
    "高10 罗9 郑10 梁7 谢7 宋6 唐6 许7 韩6 冯6 邓5 曹5 彭5 曾5 肖5 田4 董4 袁4 潘5 于4 蒋5 蔡4 "
    "余5 杜4 叶6 程4 苏3 魏3 吕3 丁3 任3 沈6 姚4 卢3 姜3 崔3 钟3 谭2 陆4 汪4 范2 金5 石2 廖2 "
    "贾2 夏2 韦2 付2 方4 白2 邹2 孟2 熊2 秦2 邱2 江2 尹2 薛2 闫1.5 段1.5 雷1.5 侯1.4 龙1.4 "
    "史1.4 陶1.3 黎1.3 贺1.3 顾2 毛2 郝1.2 龚1.2 邵2 万1.1 钱2 严1.1 覃1 武1 戴1.5 莫1 孔1 向1 "
    "汤1.5 章2 应1.5 楼1.5 俞2 施1.5 洪1.5 詹0.8 池0.5 鲍1 童1 傅1.5 葛1 祝1 屠0.5 欧阳0.3 "
    "诸葛0.05 司马0.05 上官0.05"
)

# Popular given names per (sex, era): era 0 born before 1986, 1 born 1986–2009, 2 born 2010+.
_POPULAR: Final = {
    (2, 0): "秀英12 芳14 丽10 敏10 静9 艳9 娟8 霞7 燕7 红7 玲6 梅6 英6 华5 萍6 琴5 云4 兰4 凤4 "
    "桂英5 丽娟4 海燕4 美玲3 晓红3 雪梅3 秀兰4 春梅3 玉兰3 秀珍3 丽华3 彩霞3 小燕3 晓燕3 红霞3 "
    "建芬2 美娟2 素芬2 爱华2 丽萍3 丽君2 金凤2 月娥2 慧3 莉3 颖2",
    (2, 1): "婷10 婷婷8 丹7 倩7 雪6 琳6 洁5 颖6 佳4 晶5 欣4 悦4 蕾3 璐4 瑶5 静怡3 佳怡3 雨婷3 "
    "思琪3 梦瑶3 晓雪3 丹丹4 亚楠3 慧5 娜8 敏6 芳6 莉4 萌3 露4 楠4 佳琪3 雯4 琪4 莹4 晨3 静6 "
    "燕3 艳3 丽4 梦3 宁2 玥2 雅婷3 文静3 晓丽3 佳丽2",
    (2, 2): "一诺10 梓涵9 欣怡9 子涵8 雨桐7 诗涵7 可馨6 若汐6 语桐5 依诺5 梓萱5 思涵5 芷若4 "
    "沐希4 梓琪4 诗琪4 雨涵4 欣妍4 佳怡4 梓晴3 语汐3 安琪3 悦3 涵3 可欣3 紫涵3 一涵3 艺涵3 "
    "梦琪3 子萱3 思琪2 雨萱3 晨曦2 若曦3",
    (1, 0): "伟14 强10 磊9 军9 勇9 杰8 涛8 明7 超7 刚7 平7 辉7 建华6 建国5 建军5 国庆3 海4 斌5 "
    "波5 峰5 华5 建平4 志强4 永刚3 国强3 卫东3 建明3 建新3 文3 林3 健4 亮4 鹏4 飞4 红兵2 "
    "海军2 立新2 振华2 德明2 国平2 晓东3 小平2 东3 宏3 勇军2 永明2 建伟3 志刚3",
    (1, 1): "浩8 鑫7 宇8 鹏8 帅6 俊6 博6 磊8 杰8 超7 晨5 旭5 飞6 凯6 阳6 龙5 浩然3 子豪3 俊杰4 "
    "嘉伟3 家豪3 志伟3 文杰4 宇航3 伟8 强5 涛5 明4 亮4 斌4 健4 威4 坤3 鹏飞3 晓东3 天宇3 "
    "浩宇3 佳豪2 俊宇2 振宇2 志强2 海涛2 家乐2 一鸣2 成3 毅3 昊3 翔3",
    (1, 2): "梓轩9 浩宇9 子轩8 宇轩8 沐宸7 浩然7 一诺5 奕辰6 宇泽5 子墨5 梓睿4 俊熙4 明轩4 睿3 "
    "宸3 辰3 铭3 子豪4 梓豪4 博文3 皓轩4 宇航3 嘉懿3 天佑3 煜祺3 一鸣3 俊杰3 锦程3 思远3 "
    "梓航3 子睿3 沐阳3 嘉豪3 宇辰3 浩轩3 晨阳2",
}

# Characters from which the other given names are composed, per (sex, era).
_FEMALE: Final = (
    "秀丽芳玉美红燕婷雪静晓佳欣雨梦思诗慧琳娟英梅兰菊霞云萍春月丹颖悦瑶琪涵萱彤怡妍婉嘉文淑巧素琴"
    "莉娜敏艳凤洁宁璐露薇蓉倩茜晶青雯荣爱海小亚桂金银翠"
)
_MALE: Final = (
    "伟建国明志文军华强海平永春东林宏德立晓俊浩宇杰鹏鑫磊涛斌波峰刚勇辉超飞凯龙阳天家子嘉博成正振新"
    "庆学光兴福生荣祥贵红卫民益亮晨旭坤锋昊睿轩豪航毅健江山"
)
_CHILD: Final = (
    "梓子宇浩轩涵诺沐宸辰睿思雨欣一可若汐语依佳泽熙墨琪晴萱"
    "妍悦煜铭皓嘉锦安朵昕烨瑞逸恒景初言知航伊芮"
)
_POOLS: Final = {(2, 0): _FEMALE, (2, 1): _FEMALE, (1, 0): _MALE, (1, 1): _MALE}
_POPULAR_SHARE: Final = 0.35
_SINGLE_SHARE: Final = (0.35, 0.15, 0.1)  # one-character given names, by era

# Characters nobody would accept as a typo in a name (the input method would not offer them first).
_UNFIT: Final = set(
    "亡死尸病癌瘤痉疮疤粪屎尿屁贼奸淫妓毒蛆鬼魔棺坟墓丧哭惨残废骗赌嫖娼兽狗猪蛇蝇蚊鼠虫呕吐腥臭腐烂杀殴砸罪囚狱刑枪炮弹"
)
_HOMOPHONE_FILE: Final = "homophones.csv"  # .csv: the package data pattern ships it


def _weighted(spec: str) -> tuple[Strs, npt.NDArray[np.float64]]:
    names, weights = [], []
    for token in spec.split():
        name = token.rstrip("0123456789.")
        names.append(name)
        weights.append(float(token[len(name) :]))
    return np.array(names), np.array(weights)


def _chars(spec: str) -> set[str]:
    return {c for c in spec if not (c.isdigit() or c in ". ")}


def surnames(rng: np.random.Generator, n: int) -> Strs:
    """`n` surnames drawn by their frequency."""
    names, weights = _weighted(_SURNAMES)
    return names[pick(rng, n, weights)]


def birth_era(birth_year: Ints) -> Ints:
    """0 born before 1986, 1 born 1986–2009, 2 born 2010 or later."""
    return np.searchsorted(np.array([1986, 2010]), birth_year, side="right").astype(np.int64)


def given_names(rng: np.random.Generator, sex: Ints, era: Ints) -> Strs:
    """A given name for each person, by sex (1/2) and birth era."""
    out = np.empty(len(sex), dtype="U4")
    for key in _POPULAR:
        idx = np.flatnonzero((sex == key[0]) & (era == key[1]))
        out[idx] = _given_for(rng, key, len(idx))
    return out


def _given_for(rng: np.random.Generator, key: tuple[int, int], n: int) -> Strs:
    popular, weights = _weighted(_POPULAR[key])
    pool = np.array(list(_POOLS.get(key, _CHILD)))
    first, second = pool[rng.integers(0, len(pool), n)], pool[rng.integers(0, len(pool), n)]
    single = rng.random(n) < _SINGLE_SHARE[key[1]]
    composed = np.where(single, first, np.char.add(first, second))
    chosen = popular[pick(rng, n, weights)]
    return np.where(rng.random(n) < _POPULAR_SHARE, chosen, composed)


def _name_characters() -> set[str]:
    chars = _chars(_SURNAMES) | set(_FEMALE + _MALE + _CHILD)
    for spec in _POPULAR.values():
        chars |= _chars(spec)
    return chars


def _gb2312_level1() -> list[str]:
    # GB 2312 level-1 hanzi (3,755 common characters): rows 0xB0–0xD7, cells 0xA1–0xFE.
    chars = []
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                chars.append(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def build_homophone_table() -> dict[str, str]:
    """For each name character, up to 4 common characters with the same pinyin.

    Same tone first; a character with no same-tone homophone (王) takes those that differ only by
    tone (汪), the usual slip of a pinyin input method.
    """
    from pypinyin import Style, lazy_pinyin

    names = _name_characters()
    toned: Reading = lambda c: lazy_pinyin(c, style=Style.TONE3)[0]  # noqa: E731
    toneless: Reading = lambda c: lazy_pinyin(c)[0]  # noqa: E731
    groups = {reading: _by_sound(reading) for reading in (toned, toneless)}
    table = {}
    for char in sorted(names):
        others = _others(char, toned, groups[toned]) or _others(char, toneless, groups[toneless])
        # An input method offers frequent characters first; name characters are the likeliest slips.
        others.sort(key=lambda c: c not in names)
        if others:
            table[char] = "".join(others[:4])
    return table


def _by_sound(reading: Reading) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for char in _gb2312_level1():
        if char not in _UNFIT:
            groups.setdefault(reading(char), []).append(char)
    return groups


def _others(char: str, reading: Reading, groups: dict[str, list[str]]) -> list[str]:
    return [c for c in groups.get(reading(char), []) if c != char]


@cache
def _homophones() -> dict[str, str]:
    text = files("fpcredit.synth").joinpath("data", _HOMOPHONE_FILE).read_text("utf-8")
    rows = (line.split(",") for line in text.splitlines()[1:] if line)
    return {char: others for char, others in rows}


def homophone(name: str, u_pos: float, u_char: float) -> str | None:
    """`name` with one character replaced by a homophone, or None when no character has one."""
    table = _homophones()
    positions = [i for i, c in enumerate(name) if c in table]
    if not positions:
        return None
    pos = positions[int(u_pos * len(positions))]
    options = table[name[pos]]
    return name[:pos] + options[int(u_char * len(options))] + name[pos + 1 :]


def write_homophone_table() -> None:
    """Rebuild data/homophones.csv (needs pypinyin)."""
    target = files("fpcredit.synth").joinpath("data", _HOMOPHONE_FILE)
    lines = ["char,homophones\n"]
    lines += [f"{char},{others}\n" for char, others in build_homophone_table().items()]
    with open(str(target), "w", encoding="utf-8") as handle:
        handle.writelines(lines)
