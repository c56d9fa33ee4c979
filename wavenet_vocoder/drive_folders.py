"""List a public Google Drive folder tree one folder at a time, without an API key.

Google Drive's embedded folder view (``embeddedfolderview?id=...``, the page gdown reads)
shows one folder's entries, at most ``VIEW_LIMIT`` of them.  Listing the tree folder by
folder, and only the branches that matter, keeps every request small: a folder that fails
to list, or whose view may be cut at the limit, is reported by its path while the rest of
the tree is still listed.
"""
import re
from html.parser import HTMLParser

FOLDER_VIEW = "https://drive.google.com/embeddedfolderview?id={}"

#: The most entries Google Drive's folder view shows for one folder.
VIEW_LIMIT = 50

_FILE_LINK = re.compile(r"https://drive\.google\.com/file/d/([-\w]+)/")
_FOLDER_LINK = re.compile(r"https://drive\.google\.com/drive/(?:u/\d+/)?folders/([-\w]+)")


class _Links(HTMLParser):
    """Collects (href, visible text) of every link of a page."""

    def __init__(self):
        super().__init__()
        self.links, self._href, self._text = [], None, []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse_folder_view(html):
    """(files, folders) of a folder view page: lists of (Drive id, name), in page order."""
    parser = _Links()
    parser.feed(html)
    files, folders = [], []
    for href, name in parser.links:
        if file_link := _FILE_LINK.match(href):
            files.append((file_link.group(1), name))
        elif folder_link := _FOLDER_LINK.match(href):
            folders.append((folder_link.group(1), name))
    return files, folders


def fetch_folder_view(folder_id, timeout=60):
    """The HTML of the folder view of ``folder_id`` (needs network; raises on HTTP errors)."""
    import requests                                   # installed with gdown

    response = requests.get(FOLDER_VIEW.format(folder_id), timeout=timeout,
                            headers={"User-Agent": "Mozilla/5.0 (pnf-wavenet checkpoint download)"})
    response.raise_for_status()
    return response.text


class FolderUnavailable(Exception):
    """The top folder of a walk could not be fetched: nothing below it can be listed."""


def walk(root_id, enter, fetch=fetch_folder_view, retries=3):
    """List the files below folder ``root_id``, entering only the folders ``enter`` accepts.

    ``enter(parts)`` gets a folder's path as a tuple of names below the root and says
    whether to list it.  Each folder is fetched on its own, up to ``1 + retries`` times.
    Returns (files, problems): ``files`` as (Drive id, "a/b/name") pairs, ``problems`` as
    (folder path, why) pairs for folders that could not be listed or whose view shows
    ``VIEW_LIMIT`` entries and so may be cut.  Raises :class:`FolderUnavailable` when the
    top folder itself cannot be fetched.
    """
    files, problems = [], []
    pending = [((), root_id)]
    while pending:
        parts, folder_id = pending.pop(0)
        where = "/".join(parts) or "the top folder"
        html, error = None, None
        for _ in range(1 + retries):
            try:
                html = fetch(folder_id)
                break
            except Exception as e:                    # requests' errors, timeouts, HTTP status
                error = f"{type(e).__name__}: {e}"
        if html is None:
            if not parts:
                raise FolderUnavailable(error)
            problems.append((where, f"could not be listed ({error})"))
            continue
        folder_files, folders = parse_folder_view(html)
        if len(folder_files) + len(folders) >= VIEW_LIMIT:
            problems.append((where, f"lists {len(folder_files) + len(folders)} entries, Google Drive's "
                                    f"limit for a folder view: later entries may be missing"))
        files += [(file_id, "/".join(parts + (name,))) for file_id, name in folder_files]
        pending += [(parts + (name,), child) for child, name in folders if enter(parts + (name,))]
    return files, problems
