"""Each contract's free-work catalogue (MNT-03) and its kinds of out-of-scope work (MNT-04).

Mamori ships one catalogue per kind of seed contract, as data under stable codes, written from
the contracts themselves:

- 保守管理契約（Webサイト） (001): §3 the maintenance work (its (3) 軽微なテキスト修正及び画像差替え
  is what clients ask for most), §4 the work it excludes, to be estimated separately;
- サーバー管理契約 (002): §3 the management work, (8) サーバー設定変更作業 among it; §4 the work
  outside it; §9 additional work beyond the contract, estimated and contracted separately;
- 運用支援サービス契約約款 (004): §5 configuration changes listed in the free range are done at
  no charge; other work is billed as "other fees" (§29).

None of the seeds sets a number of free requests per month, so no shipped item has a monthly
limit; an operator sets one where their own contract does. :func:`apply_shipped_catalogue`
copies a catalogue onto a contract; the other writes change one item. Every write checks the
actor (``CatalogueItem.change_rule``: the provider's staff who see the client), validates the
item (``CatalogueItem.clean``, also reached by the import) and appends its audit event in the
same transaction.
"""

from __future__ import annotations

import copy
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.clients.models import Contract, ContractType
from mamori.core import audit
from mamori.core.models import User
from mamori.desk.models import CatalogueItem, Scope
from mamori.desk.services import DeskError
from mamori.inventory.services import Referenced, Refused, jsonable, rule_message, save_record

#: The fields of an item that its forms, the API and the import write.
ITEM_FIELDS = ("code", "scope", "name_ja", "name_en", "keywords", "monthly_limit", "clause")
MAX_KEYWORDS = 200
MAX_KEYWORD_LENGTH = 100


@dataclass(frozen=True)
class ShippedItem:
    code: str
    scope: str
    name_ja: str
    name_en: str
    clause: str
    keywords: tuple[str, ...] = ()
    monthly_limit: int | None = None

    def values(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "scope": self.scope,
            "name_ja": self.name_ja,
            "name_en": self.name_en,
            "keywords": "\n".join(self.keywords),
            "monthly_limit": self.monthly_limit,
            "clause": self.clause,
        }


IN, OUT = Scope.IN_SCOPE.value, Scope.OUT_OF_SCOPE.value

# Words clients write, in both languages. Japanese is matched as a substring after NFKC and
# case folding (so 全角 and 半角 are the same); English as words (see mamori.desk.classify).
_TEXT_FIX = (
    "文言修正", "文言の修正", "文言を修正", "文言変更", "文言の変更", "文言を変更",
    "テキスト修正", "テキストの修正", "テキストを修正", "誤字", "脱字", "誤植", "表記修正",
    "文章の修正", "文章を修正", "修正してください", "電話番号の変更", "住所の変更",
    "営業時間の変更", "typo", "fix the text", "text fix", "text change", "change the text",
    "change the wording", "wording", "correct the text", "spelling",
)  # fmt: skip
_IMAGE_SWAP = (
    "画像差し替え", "画像差替え", "画像差替", "画像の差し替え", "画像を差し替え",
    "画像の差替え", "画像を差替え", "写真の差し替え", "写真を差し替え", "画像変更",
    "画像の変更", "画像を変更", "画像を入れ替え", "バナーの差し替え", "バナー差し替え",
    "replace image", "replace the image", "swap image", "swap the image", "image swap",
    "new photo", "replace the photo", "replace the banner",
)  # fmt: skip
_BACKUP = ("バックアップ", "復元", "リストア", "backup", "back up", "restore")
_OUTAGE = (
    "障害", "表示されない", "見られない", "つながらない", "繋がらない", "アクセスできない",
    "落ちて", "エラー", "down", "outage", "error", "not working", "broken",
    "cannot access", "can't access",
)  # fmt: skip
_SECURITY = ("脆弱性", "セキュリティ", "改ざん", "改竄", "不正アクセス", "マルウェア",
             "vulnerability", "security", "hacked", "malware")  # fmt: skip
_NEW_PAGE = (
    "新規ページ", "新しいページ", "ページ追加", "ページの追加", "ページを追加", "ページを新設",
    "ページ新設", "ページを作成", "ページ作成", "ページ制作", "ランディングページ", "LP制作",
    "LPを作", "特設ページ", "new page", "add a page", "add page", "create a page",
    "landing page",
)  # fmt: skip
_RENEWAL = ("リニューアル", "全面改修", "作り直", "フルリニューアル", "redesign", "renewal",
            "rebuild", "relaunch", "revamp")  # fmt: skip
_NEW_FEATURE = (
    "機能追加", "機能の追加", "機能を追加", "新機能", "新しい機能", "機能開発", "を実装",
    "new feature", "add a feature", "feature request", "implement",
)  # fmt: skip
_DESIGN = (
    "デザイン変更", "デザインの変更", "デザインを変更", "デザインを一新", "レイアウト変更",
    "レイアウトの変更", "レイアウトを変更", "配色", "change the design", "design change",
    "new design", "new layout", "change the layout",
)  # fmt: skip
_THIRD_PARTY = (
    "新規導入", "サービスを導入", "サービスの導入", "ツールを導入", "ツールの導入", "連携",
    "外部サービス", "決済サービス", "予約システム", "チャットボット",
    "integrate", "integration", "third-party", "third party", "install a plugin",
)  # fmt: skip
_ADS = ("広告", "リスティング", "ads", "advertising", "adwords", "campaign")
_CONTENT = (
    "記事作成", "記事の作成", "記事を書", "原稿作成", "原稿の作成", "コンテンツ制作",
    "コンテンツ作成", "ライティング", "撮影", "write an article", "blog post", "copywriting",
    "content writing", "photo shoot",
)  # fmt: skip
_CONFIG = (
    "設定変更", "設定の変更", "設定を変更", "設定追加", "設定の追加", "設定を追加",
    "リダイレクト", "DNS", "レコード", "cron", "php.ini", ".htaccess", "ポート開放",
    "ファイアウォール", "メモリ上限", "configuration", "config change", "change the setting",
    "setting", "redirect", "firewall", "dns record",
)  # fmt: skip
_ACCOUNT = (
    "アカウント追加", "アカウントの追加", "アカウントを追加", "アカウント作成", "アカウントの作成",
    "アカウント削除", "アカウントの削除", "パスワード再発行", "パスワードリセット", "SSH鍵",
    "公開鍵", "FTPアカウント", "add an account", "new account", "delete the account",
    "password reset", "ssh key",
)  # fmt: skip
_MIGRATION = ("移行", "引っ越し", "引越し", "移転", "乗り換え", "migrate", "migration",
              "move to a new server", "move the server")  # fmt: skip

SHIPPED: dict[str, tuple[ShippedItem, ...]] = {
    # 保守管理契約（Webサイト）
    "site-maintenance-001": (
        ShippedItem("text-fix", IN, "軽微なテキスト修正", "Minor text fixes", "001 §3(3)",
                    _TEXT_FIX),
        ShippedItem("image-swap", IN, "画像差替え", "Image swaps", "001 §3(3)", _IMAGE_SWAP),
        ShippedItem(
            "cms-update", IN, "CMS、プラグイン及び関連ソフトウェアの更新",
            "Updates of the CMS, plugins and related software", "001 §3(2)",
            ("プラグイン", "アップデート", "バージョンアップ", "WordPress", "CMSの更新",
             "plugin", "update", "upgrade"),
        ),
        ShippedItem("backup-restore", IN, "バックアップからの復元", "Restore from a backup",
                    "001 §3(4), §8", _BACKUP),
        ShippedItem("incident-recovery", IN, "障害の原因調査及び復旧",
                    "Investigation and recovery of a fault", "001 §3(5), §9", _OUTAGE),
        ShippedItem("security", IN, "セキュリティ対策及び脆弱性対応",
                    "Security measures and vulnerabilities", "001 §3(6)", _SECURITY),
        ShippedItem("ssl-support", IN, "SSL証明書の管理支援", "SSL certificate support",
                    "001 §3(7)", ("SSL", "証明書", "https", "certificate")),
        ShippedItem("analytics-report", IN, "アクセス解析データの確認及び報告",
                    "Access analytics and its report", "001 §3(8)",
                    ("アクセス解析", "アクセス数", "閲覧数", "analytics", "page views")),
        ShippedItem("renewal", OUT, "サイト全面リニューアル", "Full site renewal", "001 §4(1)",
                    _RENEWAL),
        ShippedItem("new-page", OUT, "新規ページ制作", "New pages", "001 §4(2)", _NEW_PAGE),
        ShippedItem("new-feature", OUT, "新機能開発", "New features", "001 §4(3)",
                    _NEW_FEATURE),
        ShippedItem("design-change", OUT, "大幅なデザイン変更", "Major design changes",
                    "001 §4(4)", _DESIGN),
        ShippedItem("third-party-service", OUT, "第三者サービスの新規導入",
                    "Introducing a new third-party service", "001 §4(5)", _THIRD_PARTY),
        ShippedItem("ad-operations", OUT, "広告運用業務", "Advertising operations", "001 §4(6)",
                    _ADS),
        ShippedItem("content-production", OUT, "コンテンツ制作業務", "Content production",
                    "001 §4(7)", _CONTENT),
        ShippedItem("beyond-maintenance", OUT, "その他保守の範囲を超える業務",
                    "Other work beyond maintenance", "001 §4(8)", ("移行", "migrate", "migration")),
    ),
    # サーバー管理契約
    "server-management-002": (
        ShippedItem("config-change", IN, "サーバー設定変更作業", "Server configuration changes",
                    "002 §3(8)", _CONFIG),
        ShippedItem("account-management", IN, "アカウント管理", "Account management",
                    "002 §3(7)", _ACCOUNT),
        ShippedItem("os-middleware", IN, "OS及びミドルウェアの保守",
                    "OS and middleware maintenance", "002 §3(2)",
                    ("アップデート", "パッチ", "バージョンアップ", "patch", "update", "upgrade")),
        ShippedItem("backup-restore", IN, "バックアップからの復元", "Restore from a backup",
                    "002 §3(4), §11", _BACKUP),
        ShippedItem("first-response", IN, "障害発生時の一次対応", "First response to a fault",
                    "002 §3(5), §10", _OUTAGE),
        ShippedItem("application-development", OUT, "アプリケーション開発",
                    "Application development", "002 §4(1)",
                    ("アプリケーション開発", "アプリ開発", "application development")),
        ShippedItem("site-production", OUT, "ウェブサイト制作又は改修",
                    "Website production or rework", "002 §4(2)",
                    ("サイト制作", "ホームページ制作", "サイト改修", "改修", *_NEW_PAGE,
                     *_RENEWAL, "website")),
        ShippedItem("system-development", OUT, "システム開発", "System development",
                    "002 §4(3)", ("システム開発", *_NEW_FEATURE)),
        ShippedItem("server-migration", OUT, "大規模なサーバー移行作業",
                    "Large server migrations", "002 §4(4)", _MIGRATION),
        ShippedItem("third-party-fault", OUT, "第三者サービスの不具合対応",
                    "Faults of third-party services", "002 §4(5)",
                    ("外部サービス", "他社サービス", "third-party", "third party")),
        ShippedItem("additional-work", OUT, "その他個別見積りを要する業務（追加作業）",
                    "Other work needing its own estimate (additional work)", "002 §4(6), §9",
                    ("追加作業", "見積", "additional work", "estimate", "quote")),
    ),
    # 運用支援サービス契約約款
    "operations-support-004": (
        ShippedItem("config-change", IN, "設定作業無償対応範囲の設定変更作業",
                    "Configuration changes in the free range", "004 §5(1)", _CONFIG),
        ShippedItem("other-work", OUT, "無償対応範囲外の作業（その他費用）",
                    "Work outside the free range (other fees)", "004 §5(2), §29",
                    ("構築", "新規サーバー", "サーバー追加", *_MIGRATION, "build", "new server")),
    ),
}  # fmt: skip

#: Which shipped catalogue a contract gets: by its terms profile (it names the seed contract)…
BY_TERMS_PROFILE = {
    "fixed-1y-001": "site-maintenance-001",
    "fixed-1y-002": "server-management-002",
    "monthly-004": "operations-support-004",
}
#: … else by its type. SSL management (000) and a CA's service (003) have no requests for work.
BY_CONTRACT_TYPE = {
    ContractType.SITE_MAINTENANCE: "site-maintenance-001",
    ContractType.SERVER_MANAGEMENT: "server-management-002",
    ContractType.OPERATIONS_SUPPORT: "operations-support-004",
}


def shipped_code(contract: Contract) -> str | None:
    """The code of the shipped catalogue for ``contract``, or ``None`` if none fits."""
    profile = contract.terms_profile.code if contract.terms_profile_id else None
    if profile in BY_TERMS_PROFILE:
        return BY_TERMS_PROFILE[profile]
    return BY_CONTRACT_TYPE.get(contract.type)


def shipped_for(contract: Contract) -> tuple[ShippedItem, ...]:
    code = shipped_code(contract)
    return SHIPPED[code] if code else ()


# --- validation --------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text as keywords are compared: NFKC (全角 ＡＢＣ and half-width ｶﾀｶﾅ become one
    spelling) and case folded."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def keyword_lines(text: str) -> list[str]:
    """The keywords of ``text``, one per line: spaces squeezed, blank lines and repeats (in
    any width or case) dropped."""
    lines: list[str] = []
    seen: set[str] = set()
    for line in (text or "").splitlines():
        word = " ".join(line.split())
        if word and fold(word) not in seen:
            seen.add(fold(word))
            lines.append(word)
    return lines


def clean_item(item: CatalogueItem) -> None:
    """Normalise ``item.keywords`` and check the item's rules; raises ``ValidationError``."""
    errors: dict[str, list[str]] = {}
    lines = keyword_lines(item.keywords)
    for word in lines:
        if len(word) > MAX_KEYWORD_LENGTH:
            errors.setdefault("keywords", []).append(
                _("A keyword is at most %(n)d characters: %(word)s")
                % {"n": MAX_KEYWORD_LENGTH, "word": word[:30] + "…"}
            )
    if len(lines) > MAX_KEYWORDS:
        errors.setdefault("keywords", []).append(_("At most %(n)d keywords.") % {"n": MAX_KEYWORDS})
    item.keywords = "\n".join(lines)
    if item.monthly_limit is not None:
        if item.scope == Scope.OUT_OF_SCOPE:
            errors["monthly_limit"] = [
                _("Only free work has a monthly limit; out-of-scope work is estimated each time.")
            ]
        elif item.monthly_limit < 1:
            errors["monthly_limit"] = [_("At least 1; leave it empty for no limit.")]
    item.clause = " ".join((item.clause or "").split())
    if errors:
        raise ValidationError(errors)


# --- writes ------------------------------------------------------------------------------------


def _check(actor: User | None, contract: Contract) -> None:
    from mamori.core.permissions import may_change

    if actor is not None and not may_change(actor, contract.client, CatalogueItem.change_rule):
        raise Refused(rule_message(CatalogueItem.change_rule, CatalogueItem))


def apply_shipped_catalogue(
    contract: Contract, actor: User | None, *, request=None
) -> list[CatalogueItem]:
    """Copy the shipped catalogue of ``contract``'s kind onto it: the items whose codes it does
    not have yet (an item the operator changed keeps their changes). Returns the items created;
    running it again creates nothing. Raises :class:`DeskError` when no catalogue fits,
    :class:`Refused` when ``actor`` may not."""
    _check(actor, contract)
    shipped = shipped_for(contract)
    if not shipped:
        raise DeskError(
            _("Mamori ships no catalogue for a contract of type “%(type)s”; add its items.")
            % {"type": contract.get_type_display()}
        )
    created: list[CatalogueItem] = []
    with transaction.atomic():
        have = set(CatalogueItem.objects.filter(contract=contract).values_list("code", flat=True))
        for spec in shipped:
            if spec.code in have:
                continue
            item = CatalogueItem(contract=contract, **spec.values())
            item.full_clean()
            item.save()
            created.append(item)
        if created:
            audit.record(
                "catalogue.apply",
                contract,
                actor=actor,
                request=request,
                changes={"catalogue": shipped_code(contract), "created": [i.code for i in created]},
                client_id=contract.client_id,
            )
    return created


def create_item(
    actor: User | None, contract: Contract, values: dict[str, Any], *, request=None
) -> CatalogueItem:
    """A new item of ``contract``'s catalogue; ``ValidationError`` or :class:`Refused`."""
    unknown = set(values) - set(ITEM_FIELDS)
    if unknown:
        raise ValueError(f"not catalogue item fields: {sorted(unknown)}")
    _check(actor, contract)
    item = CatalogueItem(contract=contract, **values)
    if CatalogueItem.objects.filter(contract=contract, code=item.code).exists():
        raise ValidationError({"code": _("The contract already has an item with this code.")})
    return save_record(
        item,
        section="catalogue",
        client=contract.client,
        actor=actor,
        action="catalogue.create",
        changes={"contract": jsonable(contract), **{k: jsonable(v) for k, v in values.items()}},
        request=request,
    )


def change_item(
    actor: User | None, item: CatalogueItem, values: dict[str, Any], *, request=None
) -> dict[str, list[Any]]:
    """Change the fields of ``values`` that differ; returns ``{field: [old, new]}``. The code of
    an item that requests were classified under stays (the work log and reports name it)."""
    _check(actor, item.contract)
    before = copy.copy(item)
    candidate = copy.copy(item)
    for name, new in values.items():
        if name not in ITEM_FIELDS:
            raise ValueError(f"not a catalogue item field: {name}")
        setattr(candidate, name, new)
    clean_item(candidate)  # compare normalised keywords, not what was typed
    changed = {
        name: [jsonable(getattr(before, name)), jsonable(getattr(candidate, name))]
        for name in values
        if getattr(before, name) != getattr(candidate, name)
    }
    if not changed:
        return {}
    if "code" in changed:
        if item.requests.exists():
            raise ValidationError(
                {"code": _("Requests were classified under this item: its code stays.")}
            )
        taken = CatalogueItem.objects.filter(contract=item.contract_id, code=candidate.code)
        if taken.exclude(pk=item.pk).exists():
            raise ValidationError({"code": _("The contract already has an item with this code.")})
    if "scope" in changed and item.requests.exists():
        raise ValidationError(
            {"scope": _("Requests were classified under this item: add a new item instead.")}
        )
    for name in changed:
        setattr(item, name, getattr(candidate, name))
    save_record(
        item,
        section="catalogue",
        client=item.contract.client,
        actor=actor,
        action="catalogue.update",
        changes=changed,
        before=before,
        request=request,
    )
    return changed


def delete_item(actor: User | None, item: CatalogueItem, *, request=None) -> None:
    """Delete an item no request was classified under (else :class:`Referenced`)."""
    _check(actor, item.contract)
    used = item.requests.count()
    if used:
        raise Referenced(item, [(str(_("requests")), used)])
    with transaction.atomic():
        audit.record(
            "catalogue.delete",
            item,
            actor=actor,
            request=request,
            changes={"contract": jsonable(item.contract), "code": item.code, "scope": item.scope},
            client_id=item.contract.client_id,
        )
        item.delete()
