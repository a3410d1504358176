"""Who is insured under 雇用保険 (shared/DOMAIN.md A1): a pure, date-effective decision.

Rules, as dated data (``RULESETS``), the one in force on the evaluation date applies:

* **20 h / 31 days** [確認] (雇用保険法6条): insured when the 週所定労働時間 is at least the
  threshold and employment of 31 days or more is expected. The 31-day test fails only when the
  contract is under 31 days, has no renewal clause and similar contracts are not renewed in practice
  (行政手引 20303).
* **10 h from 2028-10-01** [確認] (令和6年法律第26号); the 31-day test is unchanged.
* **昼間学生** [確認] are excluded, except 夜間・定時制・通信制, 休学中, 卒業見込 (same employer after
  graduation), 大学院 by the employer's order/approval while employed, and schools not requiring
  attendance; those are insured when the hours and days tests hold.
* **65歳以上** [確認]: insured as 高年齢被保険者 (since 2017-01-01), by the same tests. Age is reached on
  the day before the birthday (see ``age.py``) [導出].
* **マルチジョブホルダー** [確認] (since 2022-01-01): 65+, two jobs each of 5 h to under 20 h, 20 h or
  more together, 31+ days at each. Not automatic: **the worker applies** to ハローワーク and is
  insured from the day of application; the employer only certifies (証明) on request. With three or
  more jobs the worker picks two. Whether the 5 h / 20 h figures change on 2028-10-01 is not in
  DOMAIN.md **[要確認]**: from that date a job of 10 h or more is insured on its own, so only jobs of
  5 h to under 10 h are left for this path, and the 20 h total is kept as published.

The decision names its reason (code and Japanese text) and the rule version it applied."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from services.koyo_hoken.rules.age import age_on


class Student(StrEnum):
    """The worker's student status (A1.3)."""

    NONE = "none"
    DAYTIME = "daytime"  # 昼間学生: excluded
    NIGHT_PART_TIME_CORRESPONDENCE = "night_part_time_correspondence"  # 夜間・定時制・通信制
    ON_LEAVE = "on_leave"  # 休学中 (certificate needed)
    GRADUATING = "graduating"  # 卒業見込証明書, same employer after graduation
    GRADUATE_SCHOOL_BY_EMPLOYER = "graduate_school_by_employer"  # 大学院 by order/approval, still employed
    NO_ATTENDANCE_REQUIRED = "no_attendance_required"  # 出席を要しない学校, working like other workers


STUDENT_EXCEPTIONS = frozenset(Student) - {Student.NONE, Student.DAYTIME}


@dataclass(frozen=True)
class RuleSet:
    version: str
    effective_from: date
    weekly_hours_min: Decimal
    employment_days_min: int
    multi_job_from: date
    multi_job_min_age: int
    multi_job_per_job_min: Decimal
    multi_job_total_min: Decimal
    source: str


RULESETS: tuple[RuleSet, ...] = (
    RuleSet("koyo-eligibility/2022-01-01", date(2022, 1, 1), Decimal(20), 31, date(2022, 1, 1), 65, Decimal(5),
            Decimal(20), "雇用保険法6条; 行政手引20303; マルチジョブホルダー制度 (2022-01-01)"),
    RuleSet("koyo-eligibility/2028-10-01", date(2028, 10, 1), Decimal(10), 31, date(2022, 1, 1), 65, Decimal(5),
            Decimal(20), "令和6年法律第26号 (10時間以上, 2028-10-01施行); マルチジョブ [要確認]"),
)
HIGH_AGE_FROM = date(2017, 1, 1)  # 65歳以上の新規雇用も高年齢被保険者 (A1.4)


def ruleset_on(d: date) -> RuleSet:
    """The rules in force on `d` (the latest whose effective_from ≤ d; the first for older dates)."""
    current = RULESETS[0]
    for rs in RULESETS:
        if rs.effective_from <= d:
            current = rs
    return current


@dataclass(frozen=True)
class OtherJob:
    """Another employer of the same worker (for the マルチジョブホルダー path)."""

    weekly_hours: Decimal
    expects_31_days: bool = True


@dataclass(frozen=True)
class Facts:
    """What the decision looks at. `contract_end` None = no fixed term."""

    on: date  # the evaluation date (usually the hire date or today)
    birth_date: date
    weekly_hours: Decimal
    employment_start: date
    contract_end: date | None = None
    renewal_clause: bool = False
    renewal_practice: bool = False
    student: Student = Student.NONE
    other_jobs: Sequence[OtherJob] = ()


@dataclass(frozen=True)
class MultiJob:
    """The マルチ高年齢被保険者 path: only the worker can use it (by applying to ハローワーク)."""

    may_apply: bool
    hours_here: Decimal
    hours_other: Decimal | None
    explanation: str


@dataclass(frozen=True)
class Decision:
    insured: bool
    category: str | None  # "一般被保険者" | "高年齢被保険者" | None
    reason_code: str
    reason: str
    rule_version: str
    weekly_hours_min: Decimal
    age: int
    multi_job: MultiJob | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def expects_31_days(f: Facts) -> bool:
    """A1.1: fails only when the contract is under 31 days, without renewal clause or practice."""
    if f.contract_end is None or f.renewal_clause or f.renewal_practice:
        return True
    return (f.contract_end - f.employment_start).days + 1 >= 31


def _multi_job(f: Facts, rs: RuleSet, age: int) -> MultiJob | None:
    if f.on < rs.multi_job_from or age < rs.multi_job_min_age or not f.other_jobs:
        return None

    def fits(hours: Decimal, days_ok: bool) -> bool:
        return days_ok and rs.multi_job_per_job_min <= hours < rs.weekly_hours_min

    here_ok = fits(f.weekly_hours, expects_31_days(f))
    candidates = sorted((j.weekly_hours for j in f.other_jobs if fits(j.weekly_hours, j.expects_31_days)),
                        reverse=True)
    best = candidates[0] if candidates else None
    if here_ok and best is not None and f.weekly_hours + best >= rs.multi_job_total_min:
        total = f.weekly_hours + best
        return MultiJob(True, f.weekly_hours, best,
                        f"{f.weekly_hours}h + {best}h = {total}h（各{rs.multi_job_per_job_min}h以上"
                        f"{rs.weekly_hours_min}h未満、合計{rs.multi_job_total_min}h以上）: "
                        "本人がハローワークに申し出れば申出日からマルチ高年齢被保険者になれます。事業主は本人の依頼により証明を行います"
                        "（自動では加入しません。3社以上のときは本人が2社を選びます）")
    return MultiJob(False, f.weekly_hours, best,
                    f"マルチジョブホルダーの要件（65歳以上、2社の各{rs.multi_job_per_job_min}h以上"
                    f"{rs.weekly_hours_min}h未満で合計{rs.multi_job_total_min}h以上、各31日以上の見込み）を満たしません")


def decide(f: Facts) -> Decision:
    """Insured or not on `f.on`, why, and under which rule version (A1; see the module docstring)."""
    rs = ruleset_on(f.on)
    age = age_on(f.birth_date, f.on)
    high_age = age >= 65 and f.on >= HIGH_AGE_FROM
    notes: list[str] = []
    if f.on < rs.effective_from:
        notes.append(f"{rs.effective_from}より前の日付は{rs.version}の規則で判定しています")
    upcoming = [r for r in RULESETS if r.effective_from > f.on and r.weekly_hours_min != rs.weekly_hours_min]
    if upcoming and rs.weekly_hours_min > f.weekly_hours >= upcoming[0].weekly_hours_min:
        notes.append(f"{upcoming[0].effective_from}からは週{upcoming[0].weekly_hours_min}時間以上で"
                     "加入対象になります（令和6年改正）")

    def no(code: str, reason: str, multi: MultiJob | None = None) -> Decision:
        return Decision(False, None, code, reason, rs.version, rs.weekly_hours_min, age, multi, tuple(notes))

    if not expects_31_days(f):
        return no("under_31_days", "31日以上の雇用見込みがありません（契約期間31日未満で、更新規定・更新実績がない）")
    if f.student is Student.DAYTIME:
        return no("daytime_student", "昼間学生は被保険者となりません（夜間・定時制・通信制、休学中、卒業見込で"
                                     "卒業後も同じ事業主に勤務、事業主の命令・承認による大学院在学、出席不要の"
                                     "学校の場合を除く）")
    if f.weekly_hours < rs.weekly_hours_min:
        multi = _multi_job(f, rs, age)
        return no("under_weekly_hours",
                  f"週所定労働時間が{rs.weekly_hours_min}時間未満です（{f.weekly_hours}時間）", multi)
    if f.student in STUDENT_EXCEPTIONS:
        notes.append("昼間学生の例外に該当するため、通常の要件で判定しました")
    if high_age:
        return Decision(True, "高年齢被保険者", "insured_high_age",
                        f"65歳以上で週{rs.weekly_hours_min}時間以上・31日以上の雇用見込みがあるため"
                        "高年齢被保険者となります", rs.version, rs.weekly_hours_min, age, None, tuple(notes))
    return Decision(True, "一般被保険者", "insured",
                    f"週{rs.weekly_hours_min}時間以上・31日以上の雇用見込みがあるため被保険者となります",
                    rs.version, rs.weekly_hours_min, age, None, tuple(notes))
