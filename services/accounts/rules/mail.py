"""Mails to users, as text (pure: no I/O). A mail carries the addressee's name, what the notice is
about and when, and a link to read it in the console — never the notice's body, a My Number, a
wage or any other record: mail leaves our systems and stays in mailboxes we do not control."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from shared.clock import JST

KIND_LABELS = {"maintenance": "メンテナンスのお知らせ", "end_of_service": "サービス終了のお知らせ",
               "information": "お知らせ"}


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def _when(at: datetime) -> str:
    local = at.astimezone(JST)
    return f"{local:%Y年%m月%d日 %H:%M}"


def notice_mail(display_name: str, tenant_name: str, kind: str, title: str, starts_at: datetime | None,
                ends_at: datetime | None, emergency: bool, base_url: str) -> Mail:
    label = KIND_LABELS.get(kind, "お知らせ")
    subject = f"【Roumu】{'【緊急】' if emergency else ''}{label}: {title}"
    lines = [f"{tenant_name}", f"{display_name} 様", "", f"Roumu から{label}です。", "", f"件名: {title}"]
    if kind == "maintenance" and starts_at and ends_at:
        lines.append(f"期間: {_when(starts_at)} 〜 {_when(ends_at)} (日本時間)")
    elif kind == "end_of_service" and starts_at:
        lines.append(f"サービス終了日時: {_when(starts_at)} (日本時間)")
    lines += ["", "詳しくは Roumu にログインしてお知らせをご確認ください。", f"{base_url.rstrip('/')}/", "",
              "このメールは送信専用です。"]
    return Mail(subject[:300], "\n".join(lines) + "\n")


def next_attempt_delay(attempts: int, base_seconds: float, cap_seconds: float) -> float:
    """Seconds before attempt `attempts + 1` after `attempts` failed ones: doubling from the base,
    capped (1 → base, 2 → 2·base, …)."""
    return float(min(cap_seconds, base_seconds * (2 ** max(0, attempts - 1))))


def is_permanent(code: int | None) -> bool:
    """An SMTP 5xx answer refuses for good (RFC 5321 §4.2.1); 4xx and no answer are worth a retry."""
    return code is not None and 500 <= code <= 599


# --- e-Gov events -------------------------------------------------------------------------------

# Filing statuses that need a person (status_changed): the rest are progress nobody must act on.
EFILING_ATTENTION = {"failed": "電子申請が失敗しました", "needs_review": "電子申請の確認が必要です",
                     "rejected": "電子申請が却下されました"}


def efiling_mail_title(event_type: str, status: str | None) -> str | None:
    """What the mail about this efiling event is called; None: no mail for it."""
    if event_type == "roumu.efiling.filing.correction_requested":
        return "補正の通知が届きました"
    if event_type == "roumu.efiling.filing.official_document_received":
        return "手続が終了し公文書が届きました"
    if event_type == "roumu.efiling.filing.status_changed" and status in EFILING_ATTENTION:
        return EFILING_ATTENTION[status]
    return None


def sees_filing(roles: list[str], menus: dict[str, str], jigyosho_all: bool, jigyosho_ids: list[str],
                jigyosho_id: str) -> bool:
    """Who is told about a filing: the tenant's administrators, and staff holding the 電子申請 menu
    for that 事業所 (the same people who can open it)."""
    if "tenant_admin" in roles:
        return True
    return menus.get("efiling") in ("read", "write") and (jigyosho_all or jigyosho_id in jigyosho_ids)


def efiling_mail(display_name: str, tenant_name: str, title: str, jigyosho_name: str, procedure_code: str,
                 arrive_id: str | None, deadline: str | None, base_url: str) -> Mail:
    lines = [tenant_name, f"{display_name} 様", "", f"電子申請について{title}。", "",
             f"事業所: {jigyosho_name}", f"手続ID: {procedure_code}"]
    if arrive_id:
        lines.append(f"到達番号: {arrive_id}")
    if deadline:
        lines.append(f"補正期限: {deadline}")
    lines += ["", "内容は Roumu の電子申請メニューでご確認ください。", f"{base_url.rstrip('/')}/", "",
              "このメールは送信専用です。"]
    return Mail(f"【Roumu】{title}: {jigyosho_name}"[:300], "\n".join(lines) + "\n")


# --- the daily deadline digest ------------------------------------------------------------------

@dataclass(frozen=True)
class DueItem:
    """One deadline as koyo_hoken answers it: only the 事業所 and the days left travel here."""

    jigyosho_id: str
    days_left: int


def sees_menu(roles: list[str], menus: dict[str, str], jigyosho_all: bool, jigyosho_ids: list[str], menu: str,
              jigyosho_id: str) -> bool:
    if "tenant_admin" in roles:
        return True
    return menus.get(menu) in ("read", "write") and (jigyosho_all or jigyosho_id in jigyosho_ids)


def digest_counts(items: list[DueItem], days: int, visible: Callable[[str], bool]) -> dict[str, tuple[int, int]]:
    """Per 事業所 the user can see: (overdue, due within `days` days, today included, not overdue)."""
    out: dict[str, tuple[int, int]] = {}
    for i in items:
        if i.days_left > days or not visible(i.jigyosho_id):
            continue
        overdue, soon = out.get(i.jigyosho_id, (0, 0))
        out[i.jigyosho_id] = (overdue + 1, soon) if i.days_left < 0 else (overdue, soon + 1)
    return out


def digest_mail(display_name: str, tenant_name: str, day: date, days: int, rows: list[tuple[str, int, int]],
                base_url: str) -> Mail:
    """`rows`: (事業所 name, overdue, due soon), in the order to show. Counts only: no person."""
    overdue = sum(r[1] for r in rows)
    soon = sum(r[2] for r in rows)
    lines = [tenant_name, f"{display_name} 様", "",
             f"{day:%Y年%m月%d日} 時点で、{days}日以内に期限が来る雇用保険の手続は {soon} 件、"
             f"期限を過ぎた手続は {overdue} 件です。", ""]
    for name, o, s in rows:
        lines.append(f"・{name}: {days}日以内 {s} 件" + (f" / 期限切れ {o} 件" if o else ""))
    lines += ["", "詳しくは Roumu の期限一覧でご確認ください。", f"{base_url.rstrip('/')}/", "",
              "このメールは送信専用です。配信の要否と日数は利用者管理で変更できます。"]
    subject = f"【Roumu】期限のお知らせ ({day:%m/%d}): {days}日以内 {soon} 件" + \
        (f"・期限切れ {overdue} 件" if overdue else "")
    return Mail(subject[:300], "\n".join(lines) + "\n")
