"""A pull request's page in the portal: its conversation (comments, commits, status changes), the files
it changes and its commits, with merge and close buttons for those who may. Reached through the
Community tab's `/discussions/{number}` (web/community_pages.py), which hands pull requests here."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from csghub.core.names import RepoId, RepoType
from csghub.http.deps import get_hub
from csghub.services.community import pulls
from csghub.web.markdown import render_markdown
from csghub.web.render import render

TABS = ("conversation", "files", "commits")
STATUS_WORDS = {"open": "Open", "closed": "Closed", "draft": "Draft", "merged": "Merged"}


def pull_page(
    request: Request,
    repo_type: RepoType,
    repo_id: RepoId,
    number: int,
    context: dict[str, object],
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    """`context` is the repository header's (community_pages.header_context)."""
    hub, actor = get_hub(request), request.state.actor
    details = pulls.get_pull(hub, actor, repo_type, repo_id, number)
    tab = request.query_params.get("tab", "conversation")
    tab = tab if tab in TABS else "conversation"
    patches = pulls.changed_files(hub, actor, details) if tab == "files" else ()
    events = [(e, render_markdown(e.body) if e.kind == "comment" else "") for e in details.discussion.events]
    return render(
        request,
        "pull.html",
        status=status,
        pull=details,
        discussion=details.discussion,
        status_word=STATUS_WORDS.get(details.discussion.status, details.discussion.status),
        events=events,
        shown_tab=tab,
        patches=patches,
        additions=sum(p.additions for p in patches),
        deletions=sum(p.deletions for p in patches),
        error=error,
        **context,
    )
