#!/usr/bin/python3
"""Drives tessera-app through the accessibility tree (AT-SPI, pyatspi).

Run by clients/gtk/tests/gui.rs with Debian's /usr/bin/python3 (the
python3-pyatspi package) in the test's X display and session bus. It
reads one JSON command per line on stdin and answers one JSON line:
{"ok": true, ...} or {"ok": false, "error": "..."}. Commands wait (up to
"timeout" seconds, 30 unless given) for what they look for, so the test never sleeps.

Only what a user sees counts: a node is found when its window is showing
and it and its ancestors are visible (STATE_VISIBLE; GTK 4.8 sets
STATE_SHOWING on windows only, and the app hides the pages of its stacks
that are not on screen, src/pages.rs), so a page that is not on screen is
never clicked or read.
"""

import json
import re
import subprocess
import sys
import time

import pyatspi

APP = "tessera-app"


def app():
    desktop = pyatspi.Registry.getDesktop(0)
    for a in desktop:
        if a is not None and a.name == APP:
            return a
    return None


def showing(node, state=pyatspi.STATE_VISIBLE):
    try:
        return node.getState().contains(state)
    except Exception:
        return False


def walk(node):
    """Every showing node under node (depth first), skipping hidden subtrees."""
    try:
        children = list(node)
    except Exception:
        return
    for child in children:
        if child is None or not showing(child):
            continue
        yield child
        yield from walk(child)


def roots():
    a = app()
    if a is None:
        return []
    # libatspi caches what it read (states, children) and would keep a
    # window's state from before it was mapped: read the app afresh.
    a.clearCache()
    return [w for w in a if w is not None and (showing(w, pyatspi.STATE_SHOWING) or showing(w))]


def matches(node, role, name):
    try:
        if role and node.getRoleName() != role:
            return False
        if name is None:
            return True
        n = node.name or ""
        if name.startswith("re:"):
            return re.search(name[3:], n) is not None
        return n == name
    except Exception:
        return False


def find_all(role, name, within=None):
    found = []
    for root in roots():
        for node in [root, *walk(root)]:
            if matches(node, role, name):
                found.append(node)
    if within is not None:
        found = [n for n in found if has_ancestor(n, within)]
    return found


def has_ancestor(node, name):
    p = node.parent
    while p is not None:
        if (p.name or "") == name:
            return True
        p = p.parent
    return False


def wait_for(cmd):
    deadline = time.time() + float(cmd.get("timeout", 30))
    while True:
        nodes = find_all(cmd.get("role"), cmd.get("name"), cmd.get("within"))
        if nodes:
            return nodes
        if time.time() > deadline:
            return []
        time.sleep(0.1)


def actions(node):
    try:
        return node.queryAction().nActions
    except Exception:
        return 0


def describe(node):
    return f"{node.getRoleName()} {node.name!r}"


def visible_summary():
    out = []
    for root in roots():
        for node in walk(root):
            if node.name or node.getRoleName() in ("text", "password text", "entry"):
                out.append(describe(node))
    return out[:400]


def extents(node):
    return node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)


def scroll_into_view(node, window):
    """Turns the mouse wheel over node's scroll pane until node's middle is
    inside it, as a person scrolls to a field below the fold."""
    pane = node.parent
    while pane is not None and pane.getRoleName() != "scroll pane":
        pane = pane.parent
    if pane is None:
        return
    for _ in range(40):
        p, e = extents(pane), extents(node)
        middle = e.y + e.height // 2
        if p.y <= middle <= p.y + p.height - 1:
            return
        button = "5" if middle > p.y + p.height else "4"
        subprocess.run(
            ["xdotool", "mousemove", "--window", window,
             str(p.x + p.width // 2), str(p.y + p.height // 2), "click", button],
            check=True,
        )
        time.sleep(0.05)
        node.clearCache()
        pane.clearCache()


def click_at(node):
    """A pointer click in the middle of node (extents relative to its window)."""
    window = window_id(node)
    scroll_into_view(node, window)
    e = extents(node)
    x, y = e.x + e.width // 2, e.y + e.height // 2
    subprocess.run(
        ["xdotool", "mousemove", "--window", window, str(x), str(y), "click", "1"],
        check=True,
    )


def window_id(node):
    """The X window of node's top-level (found by its title)."""
    top = node
    while top.parent is not None and top.parent.getRoleName() != "application":
        top = top.parent
    title = top.name or ""
    out = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^" + re.escape(title) + "$"],
        capture_output=True, text=True, check=True,
    )
    return out.stdout.split()[-1]


def text_of(node):
    try:
        t = node.queryText()
        return t.getText(0, t.characterCount)
    except Exception:
        return node.name or ""


def run(cmd):
    op = cmd["op"]
    if op == "wait":
        nodes = wait_for(cmd)
        if not nodes:
            raise LookupError(not_found(cmd))
        return {"count": len(nodes)}
    if op == "gone":
        deadline = time.time() + float(cmd.get("timeout", 30))
        while find_all(cmd.get("role"), cmd.get("name"), cmd.get("within")):
            if time.time() > deadline:
                raise LookupError(f"still showing: {cmd.get('role')} {cmd.get('name')!r}")
            time.sleep(0.1)
        return {}
    if op == "click":
        nodes = wait_for(cmd)
        if not nodes:
            raise LookupError(not_found(cmd))
        # A menu button is a button (no action) around a toggle button.
        node = next((n for n in nodes if actions(n)), nodes[0])
        action = node.queryAction()
        names = [action.getName(i) for i in range(action.nActions)]
        index = names.index("click") if "click" in names else 0
        action.doAction(index)
        return {"clicked": describe(node)}
    if op == "type":
        # Keyboard input into the focused widget, as a person types it.
        subprocess.run(["xdotool", "type", "--delay", "20", cmd["text"]], check=True)
        return {}
    if op == "key":
        subprocess.run(["xdotool", "key", "--delay", "60"] + cmd["keys"], check=True)
        return {}
    if op == "focus":
        # GTK 4.8 does not implement Component.GrabFocus: click into the
        # field with the pointer, as a person would.
        nodes = wait_for(cmd)
        if not nodes:
            raise LookupError(not_found(cmd))
        click_at(nodes[0])
        return {}
    if op == "texts":
        nodes = wait_for(cmd)
        if not nodes:
            raise LookupError(not_found(cmd))
        return {"texts": [text_of(n) for n in nodes]}
    if op == "focused":
        for root in roots():
            for node in walk(root):
                if node.getState().contains(pyatspi.STATE_FOCUSED):
                    return {"focused": describe(node)}
        return {"focused": ""}
    if op == "extents":
        # Where a node is drawn in its window, and the window's X id, for
        # looking at the pixels of that spot in a screenshot.
        nodes = wait_for(cmd)
        if not nodes:
            raise LookupError(not_found(cmd))
        e = extents(nodes[0])
        return {"window": window_id(nodes[0]), "x": e.x, "y": e.y,
                "width": e.width, "height": e.height}
    if op == "summary":
        return {"summary": visible_summary()}
    raise ValueError(f"unknown op {op!r}")


def not_found(cmd):
    desktop = pyatspi.Registry.getDesktop(0)
    apps = [a.name for a in desktop if a is not None]
    return (
        f"applications: {apps}; "
        f"nothing showing matches role={cmd.get('role')!r} name={cmd.get('name')!r}; "
        f"showing: {visible_summary()}"
    )


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            reply = {"ok": True}
            reply.update(run(cmd))
        except Exception as e:  # the test prints it with the command
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
