"""標準報酬月額 grade tables as dated data (DOMAIN-SHAHO.md §1; keys L1, L2, L4, T1, T3).

Each row is ``grade,standard,lower_inclusive,upper_exclusive`` (empty = unbounded), copied from the
machine-readable table in DOMAIN-SHAHO.md §1.2. A table applies from its ``effective_from`` (the first
day of a premium month); a later table is a new entry, never an edit.

* 健保 (健保法40条1項): 50 grades, 58,000–1,390,000, from 2016-04-01 [確認] L1.
* 厚年 (厚年法20条1項; 第32級 added by 2020年政令第246号): 32 grades, 88,000–650,000, from 2020-09-01
  [確認] L2, L4. The 2027-09 / 2028-09 / 2029-09 extensions (令和7年法律第74号) are not entered: their
  bands are [要確認] (§1.1 item 5, open question 6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache


class Scheme(StrEnum):
    KENPO = "kenpo"  # 健康保険
    KOUNEN = "kounen"  # 厚生年金保険


@dataclass(frozen=True)
class GradeRow:
    grade: int
    standard: int
    lower: int | None  # inclusive; None = no lower bound
    upper: int | None  # exclusive; None = no upper bound


@dataclass(frozen=True)
class GradeTable:
    scheme: Scheme
    effective_from: date
    rows: tuple[GradeRow, ...]
    source: str


def _parse(text: str) -> tuple[GradeRow, ...]:
    rows = []
    for line in text.strip().splitlines():
        g, s, lo, up = line.split(",")
        rows.append(GradeRow(int(g), int(s), int(lo) if lo else None, int(up) if up else None))
    return tuple(rows)


_KENPO_2016 = """
1,58000,,63000
2,68000,63000,73000
3,78000,73000,83000
4,88000,83000,93000
5,98000,93000,101000
6,104000,101000,107000
7,110000,107000,114000
8,118000,114000,122000
9,126000,122000,130000
10,134000,130000,138000
11,142000,138000,146000
12,150000,146000,155000
13,160000,155000,165000
14,170000,165000,175000
15,180000,175000,185000
16,190000,185000,195000
17,200000,195000,210000
18,220000,210000,230000
19,240000,230000,250000
20,260000,250000,270000
21,280000,270000,290000
22,300000,290000,310000
23,320000,310000,330000
24,340000,330000,350000
25,360000,350000,370000
26,380000,370000,395000
27,410000,395000,425000
28,440000,425000,455000
29,470000,455000,485000
30,500000,485000,515000
31,530000,515000,545000
32,560000,545000,575000
33,590000,575000,605000
34,620000,605000,635000
35,650000,635000,665000
36,680000,665000,695000
37,710000,695000,730000
38,750000,730000,770000
39,790000,770000,810000
40,830000,810000,855000
41,880000,855000,905000
42,930000,905000,955000
43,980000,955000,1005000
44,1030000,1005000,1055000
45,1090000,1055000,1115000
46,1150000,1115000,1175000
47,1210000,1175000,1235000
48,1270000,1235000,1295000
49,1330000,1295000,1355000
50,1390000,1355000,
"""

_KOUNEN_2020_09 = """
1,88000,,93000
2,98000,93000,101000
3,104000,101000,107000
4,110000,107000,114000
5,118000,114000,122000
6,126000,122000,130000
7,134000,130000,138000
8,142000,138000,146000
9,150000,146000,155000
10,160000,155000,165000
11,170000,165000,175000
12,180000,175000,185000
13,190000,185000,195000
14,200000,195000,210000
15,220000,210000,230000
16,240000,230000,250000
17,260000,250000,270000
18,280000,270000,290000
19,300000,290000,310000
20,320000,310000,330000
21,340000,330000,350000
22,360000,350000,370000
23,380000,370000,395000
24,410000,395000,425000
25,440000,425000,455000
26,470000,455000,485000
27,500000,485000,515000
28,530000,515000,545000
29,560000,545000,575000
30,590000,575000,605000
31,620000,605000,635000
32,650000,635000,
"""

TABLES: tuple[GradeTable, ...] = (
    GradeTable(Scheme.KENPO, date(2016, 4, 1), _parse(_KENPO_2016),
               "健保法40条1項 (L1); T1 2016-04-01.yaml; DOMAIN-SHAHO.md §1.2"),
    GradeTable(Scheme.KOUNEN, date(2020, 9, 1), _parse(_KOUNEN_2020_09),
               "厚年法20条1項, 2020年政令第246号 (L2, L4); T1 2020-09-01.yaml; DOMAIN-SHAHO.md §1.2"),
)


@lru_cache(maxsize=256)
def table_for(scheme: Scheme, on: date) -> GradeTable:
    """The table of `scheme` in force on `on` (the latest whose effective_from ≤ on)."""
    candidates = [t for t in TABLES if t.scheme == scheme and t.effective_from <= on]
    if not candidates:
        raise ValueError(f"no {scheme} grade table in force on {on.isoformat()}")
    return max(candidates, key=lambda t: t.effective_from)
