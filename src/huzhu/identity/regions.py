"""Province-level codes: the first two digits of a Chinese resident ID number (GB/T 2260).

Names are short forms as shown to the public (e.g. on an anonymised case: "广西 / Guangxi").
"""

from __future__ import annotations

from dataclasses import dataclass

from huzhu.errors import InvalidInput
from huzhu.identity.errors import IdentityError


@dataclass(frozen=True)
class Province:
    code: str  # two digits, e.g. "45"
    name_zh: str
    name_en: str


_TABLE: tuple[tuple[str, str, str], ...] = (
    ("11", "北京", "Beijing"),
    ("12", "天津", "Tianjin"),
    ("13", "河北", "Hebei"),
    ("14", "山西", "Shanxi"),
    ("15", "内蒙古", "Inner Mongolia"),
    ("21", "辽宁", "Liaoning"),
    ("22", "吉林", "Jilin"),
    ("23", "黑龙江", "Heilongjiang"),
    ("31", "上海", "Shanghai"),
    ("32", "江苏", "Jiangsu"),
    ("33", "浙江", "Zhejiang"),
    ("34", "安徽", "Anhui"),
    ("35", "福建", "Fujian"),
    ("36", "江西", "Jiangxi"),
    ("37", "山东", "Shandong"),
    ("41", "河南", "Henan"),
    ("42", "湖北", "Hubei"),
    ("43", "湖南", "Hunan"),
    ("44", "广东", "Guangdong"),
    ("45", "广西", "Guangxi"),
    ("46", "海南", "Hainan"),
    ("50", "重庆", "Chongqing"),
    ("51", "四川", "Sichuan"),
    ("52", "贵州", "Guizhou"),
    ("53", "云南", "Yunnan"),
    ("54", "西藏", "Tibet"),
    ("61", "陕西", "Shaanxi"),
    ("62", "甘肃", "Gansu"),
    ("63", "青海", "Qinghai"),
    ("64", "宁夏", "Ningxia"),
    ("65", "新疆", "Xinjiang"),
    ("71", "台湾", "Taiwan"),
    ("81", "香港", "Hong Kong"),
    ("82", "澳门", "Macao"),
    # Residence permits for Taiwan residents living on the mainland carry the region code 830000.
    ("83", "台湾", "Taiwan"),
)

PROVINCES: dict[str, Province] = {code: Province(code, zh, en) for code, zh, en in _TABLE}


def province_for(code: str) -> Province:
    """The province for a two-digit code (or the first two digits of a longer region code)."""
    key = str(code)[:2]
    try:
        return PROVINCES[key]
    except KeyError:
        raise InvalidInput(IdentityError.REGION_PROVINCE, code=repr(key)) from None
