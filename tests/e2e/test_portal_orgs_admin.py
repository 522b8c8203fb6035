"""People, organizations and administration in a real browser (Debian's Chromium through Playwright)
against a live hub: a user creates an organization and a private model in it, invites a second user
who accepts on their settings page and then sees the model; the last admin cannot leave; a site admin
disables an account on /admin/users and its token stops working; a non-admin is refused /admin; the
audit log lists the invitation and the disabling. Screenshots land in docs/screenshots/."""

from __future__ import annotations

import secrets

import httpx
from playwright.sync_api import Browser, expect

from csghub.core.names import RepoId, RepoType
from csghub.services.context import Hub
from csghub.services.identity import accounts, orgs
from csghub.services.repositories import repos
from tests.conftest import PG_ADMIN_URL
from tests.support.browser import shot, sign_in
from tests.support.live import LiveHub

PASSWORD = "portal passphrase 7"


def _user_id(hub: Hub, name: str) -> int:
    found = accounts.find_user_view(hub, name)
    assert found is not None
    return found.id


def _whoami(live: LiveHub, token: str) -> httpx.Response:
    return httpx.get(f"{live.url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"})


def test_org_admin_invites_a_member_who_then_sees_the_private_model(browser: Browser, live: LiveHub) -> None:
    alice, _ = live.user("alice", password=PASSWORD)
    bob, _ = live.user("bob", password=PASSWORD)
    org = f"lab{secrets.token_hex(3)}"
    a_context, a, a_problems = sign_in(browser, live.url, alice, PASSWORD)

    # "+ New" leads to the repository form, which offers an organization instead.
    a.click("header a:has-text('New')")
    a.click("main a:has-text('Create an organization')")
    a.wait_for_url(f"{live.url}/organizations/new")
    a.fill("input[name=name]", org)
    a.fill("input[name=full_name]", "Vision Lab")
    a.click("main form button[type=submit]")
    a.wait_for_url(f"{live.url}/{org}")
    expect(a.locator("h1.profile-name")).to_have_text("Vision Lab")
    expect(a.locator(".profile-members li")).to_have_text([f"{alice} admin"])

    # A private model in the organization, from the /new page's owner select.
    a.goto(f"{live.url}/new")
    a.select_option("select[name=owner]", org)
    a.fill("input[name=name]", "secret-model")
    a.check("input[name=visibility][value=private]")
    a.click("main form button[type=submit]")
    a.wait_for_url(f"{live.url}/{org}/secret-model")
    a.goto(f"{live.url}/{org}")
    expect(a.locator("nav.tabs a.active")).to_contain_text("Models 1")
    expect(a.locator(".repo-card .name")).to_have_text([f"{org}/secret-model"])
    expect(a.locator(".repo-card .badge")).to_have_text(["Private"])
    shot(a, "profile")

    # Bob cannot see it yet: the model page and the org's listing both hide it.
    b_context, b, b_problems = sign_in(browser, live.url, bob, PASSWORD)
    missing = b.goto(f"{live.url}/{org}/secret-model")
    assert missing is not None and missing.status == 404
    expect(b.locator("h1")).to_have_text("Page not found")
    b.goto(f"{live.url}/{org}")
    expect(b.locator("nav.tabs")).to_contain_text("Models 0")
    assert b.locator(".repo-card").count() == 0
    assert b.locator("a:has-text('Organization settings')").count() == 0
    refused = b.goto(f"{live.url}/organizations/{org}/settings")
    assert refused is not None and refused.status == 403

    # Alice invites Bob from the settings (the short /{org}/settings leads there too).
    a.goto(f"{live.url}/{org}/settings")
    a.wait_for_url(f"{live.url}/organizations/{org}/settings")
    a.fill("#invitations input[name=user]", bob)
    a.select_option("#invitations select[name=role]", "read")
    a.click("#invitations button:has-text('Invite')")
    expect(a.locator("p.notice")).to_have_text("Invitation sent")
    expect(a.locator(f"#invitations tr[data-invitation='{bob}']")).to_contain_text("read")
    shot(a, "org-settings")

    # The last admin can neither leave nor step down; the page says why.
    a.click(f"#members tr[data-member='{alice}'] button:has-text('Leave')")
    expect(a.locator("p.error")).to_contain_text(f"'{alice}' is the last admin of '{org}'")
    a.select_option(f"#members tr[data-member='{alice}'] select[name=role]", "write")
    a.click(f"#members tr[data-member='{alice}'] button:has-text('Change role')")
    expect(a.locator("p.error")).to_contain_text("make someone else admin first")
    expect(a.locator(f"#members tr[data-member='{alice}'] select[name=role]")).to_have_value("admin")

    # Bob accepts on his settings page, and now sees the model.
    b.goto(f"{live.url}/settings")
    invitation = b.locator(f"#organizations li[data-invitation='{org}']")
    expect(invitation).to_contain_text("read")
    invitation.locator("button:has-text('Accept')").click()
    expect(b.locator("p.notice")).to_have_text("Invitation accepted")
    expect(b.locator(f"#organizations tr[data-org='{org}']")).to_contain_text("read")
    assert b.locator("#organizations li[data-invitation]").count() == 0
    b.goto(f"{live.url}/{org}/secret-model")
    expect(b.locator(".repo-head h1")).to_contain_text(f"{org} / secret-model")
    b.goto(f"{live.url}/{bob}")
    expect(b.locator(".profile-orgs")).to_contain_text(org)

    # Alice now sees Bob as a member and can make him admin; then she may step down.
    a.goto(f"{live.url}/organizations/{org}/settings")
    expect(a.locator("#members tbody tr")).to_have_count(2)
    assert a.locator("#invitations tr[data-invitation]").count() == 0
    a.select_option(f"#members tr[data-member='{bob}'] select[name=role]", "admin")
    a.click(f"#members tr[data-member='{bob}'] button:has-text('Change role')")
    expect(a.locator("p.notice")).to_have_text("Role changed")
    expect(a.locator(f"#members tr[data-member='{bob}'] select[name=role]")).to_have_value("admin")

    assert a_problems == [] and b_problems == []
    a_context.close()
    b_context.close()


def test_unknown_names_are_the_404_page(browser: Browser, live: LiveHub) -> None:
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{live.url}/nobody-{secrets.token_hex(3)}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    context.close()


def test_site_admin_disables_a_user_whose_token_stops_working(browser: Browser, live: LiveHub) -> None:
    hub = live.hub
    admin = f"root{secrets.token_hex(3)}"
    accounts.create_user(hub, admin, email=f"{admin}@example.com", password=PASSWORD, is_admin=True)
    victim, token = live.user("victim", password=PASSWORD)
    owner, _ = live.user("owner", password=PASSWORD)
    team = f"team{secrets.token_hex(3)}"
    orgs.create_org(hub, team, owner=owner)
    owner_actor = accounts.actor_from_user_id(hub, _user_id(hub, owner))
    orgs.invite(hub, owner_actor, team, victim, "write")
    repos.create_repo(hub, owner_actor, RepoType.MODEL, RepoId.of(team, "hidden"), visibility="private")
    assert _whoami(live, token).json()["name"] == victim

    # Someone who is not a site admin is refused, and sees no link to the admin pages.
    v_context, v, _ = sign_in(browser, live.url, victim, PASSWORD)
    assert v.locator("header a.admin-link").count() == 0
    refused = v.goto(f"{live.url}/admin/users")
    assert refused is not None and refused.status in (403, 404)
    expect(v.locator(".error-page")).to_contain_text("Only site administrators")
    assert v.locator("table.admin-table").count() == 0
    v_context.close()

    context, page, problems = sign_in(browser, live.url, admin, PASSWORD)
    page.click("header a.admin-link")
    page.wait_for_url(f"{live.url}/admin")
    # The PostgreSQL leg of the suite runs every hub on PostgreSQL.
    expect(page.locator("[data-fact=database]")).to_have_text("postgresql" if PG_ADMIN_URL else "sqlite")
    expect(page.locator("[data-fact=storage]")).to_have_text("local")
    assert page.inner_text("[data-fact=version]").strip()
    assert int(page.inner_text("[data-fact=users]")) >= 3
    shot(page, "admin-status")

    page.click("nav.admin-tabs a:has-text('Users')")
    page.fill("form.admin-search input[name=q]", victim)
    page.click("form.admin-search button[type=submit]")
    row = page.locator(f"tr[data-user='{victim}']")
    expect(row.locator(".user-status")).to_have_text("Active")
    row.locator("button:has-text('Disable')").click()
    expect(page.locator("p.notice")).to_have_text("Account disabled")
    assert f"q={victim}" in page.url, "the page comes back to the same search"
    expect(row.locator(".user-status")).to_have_text("Disabled")
    expect(row.locator("button:has-text('Enable')")).to_be_visible()
    gone = _whoami(live, token)
    assert gone.status_code == 401 and gone.headers.get("x-error-code") != "", gone.text

    page.goto(f"{live.url}/admin/users")
    expect(page.locator(f"tr[data-user='{victim}'] .user-status")).to_have_text("Disabled")
    shot(page, "admin-users")

    # A forgotten password is replaced; the new one works at once.
    owner_row = page.locator(f"tr[data-user='{owner}']")
    owner_row.locator("summary:has-text('Reset password')").click()
    owner_row.locator("input[name=new_password]").fill("a brand new passphrase 9")
    owner_row.locator("button:has-text('Reset password')").click()
    expect(page.locator("p.notice")).to_have_text("Password reset")
    signed = httpx.get(f"{live.url}/api/whoami-v2", auth=(owner, "a brand new passphrase 9"))
    assert signed.status_code == 200 and signed.json()["name"] == owner

    # An administrator cannot lock themselves out.
    page.fill("form.admin-search input[name=q]", admin)
    page.click("form.admin-search button[type=submit]")
    page.locator(f"tr[data-user='{admin}'] button:has-text('Disable')").click()
    expect(page.locator("p.error")).to_contain_text("You cannot disable yourself")

    page.click("nav.admin-tabs a:has-text('Organizations')")
    expect(page.locator(f"tr[data-org='{team}']")).to_contain_text("1")
    page.click("nav.admin-tabs a:has-text('Repositories')")
    expect(page.locator(f"tr[data-repo='{team}/hidden'] .badge")).to_have_text("Private")

    page.click("nav.admin-tabs a:has-text('Audit log')")
    disabled = page.locator("tr[data-event]", has_text="user.disable").first
    expect(disabled).to_contain_text(victim)
    expect(disabled).to_contain_text(admin)
    invited = page.locator("tr[data-event]", has_text="org.invite").filter(has_text=team).first
    expect(invited).to_contain_text(victim)
    expect(invited).to_contain_text("role=write")
    shot(page, "admin-audit")
    # Newest first; the filter narrows to one action; ?before= pages to older events.
    first_id = int(page.locator("tr[data-event]").first.get_attribute("data-event") or 0)
    assert int(disabled.get_attribute("data-event") or 0) <= first_id
    page.select_option("select[name=action]", "user.disable")
    page.wait_for_url("**/admin/audit?action=user.disable")
    actions = page.locator("tr[data-event] td:nth-child(3)").all_inner_texts()
    assert actions and set(actions) == {"user.disable"}
    disabled_id = page.locator("tr[data-event]", has_text=victim).first.get_attribute("data-event")
    page.goto(f"{live.url}/admin/audit?before={disabled_id}")
    assert page.locator(f"tr[data-event='{disabled_id}']").count() == 0

    page.click("a.lang")
    expect(page.locator("nav.admin-tabs")).to_contain_text("审计日志")
    page.click("a.lang")
    assert problems == []
    context.close()
