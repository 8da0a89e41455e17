"""Generated requests for the file system suite (the directory to work in is reached with ``cd``
from wherever the previous turn left the model)."""

from __future__ import annotations

from lfmgym.envs.bfcl_multi_turn.apis.filesystem import Directory, File
from lfmgym.envs.bfcl_multi_turn.plan import Intent, Plan, Rejected
from lfmgym.envs.bfcl_multi_turn.worlds import WORDS


def _fs_path(directory: Directory) -> list[Directory]:
    path = []
    while directory is not None:
        path.append(directory)
        directory = directory.parent
    return path[::-1]


def _fs_goto(p: Plan, target: Directory) -> str:
    """cd calls from the current directory to ``target``; returns how the request names it."""
    fs = p.suite("GorillaFileSystem")
    here, there = _fs_path(fs._current_dir), _fs_path(target)
    common = 0
    while common < min(len(here), len(there)) and here[common] is there[common]:
        common += 1
    for _ in range(len(here) - common):
        p.call("cd", folder="..")
    for d in there[common:]:
        p.call("cd", folder=d.name)
    return "the current folder" if target is here[-1] else f"the '{target.name}' folder"


def _fs_pick_dir(p: Plan, with_files: int = 0) -> Directory:
    fs = p.suite("GorillaFileSystem")
    names = {}
    for d in _fs_dirs(fs):
        names.setdefault(d.name, []).append(d)
    options = [d for d in _fs_dirs(fs) if len(names[d.name]) == 1
               and sum(isinstance(c, File) for c in d.contents.values()) >= with_files]
    if not options:
        raise Rejected("no suitable folder")
    return p.rng.choice(options)


def _fs_file(p: Plan, d: Directory) -> str:
    return p.rng.choice([n for n, c in d.contents.items() if isinstance(c, File)])


def _fs_new_name(p: Plan, d: Directory, ext: str = ".txt") -> str:
    for _ in range(20):
        name = f"{p.rng.choice(WORDS)}_{p.rng.randint(1, 99)}{ext}"
        if name not in d.contents:
            return name
    raise Rejected("no free name")


def fs_make_dir(p: Plan) -> Intent:
    d = _fs_pick_dir(p)
    name = f"{p.rng.choice(WORDS)}_{p.rng.choice(('old', 'new', '2024', 'team'))}"
    if name in d.contents:
        raise Rejected("exists")
    where = _fs_goto(p, d)
    p.call("mkdir", dir_name=name)
    return Intent(f"Create a folder named '{name}' in {where}.", p.calls,
                  (f"Create a new folder in {where}.", f"Call the folder '{name}'."))


def fs_write_file(p: Plan) -> Intent:
    d = _fs_pick_dir(p)
    name, text = _fs_new_name(p, d), f"{p.rng.choice(WORDS).capitalize()} checked on {p.rng.randint(1, 28)} May."
    where = _fs_goto(p, d)
    p.call("touch", file_name=name)
    p.call("echo", content=text, file_name=name)
    return Intent(f"In {where}, create a file '{name}' and write '{text}' into it.", p.calls,
                  (f"In {where}, create a file '{name}' and write a short note into it.", f"The note is: '{text}'"))


def fs_read(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    where = _fs_goto(p, d)
    p.call("cat", file_name=name)
    return Intent(f"Show me what is in '{name}' in {where}.", p.calls)


def fs_count(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    mode, unit = p.rng.choice((("l", "lines"), ("w", "words"), ("c", "characters")))
    where = _fs_goto(p, d)
    p.call("wc", file_name=name, mode=mode)
    return Intent(f"How many {unit} does '{name}' in {where} have?", p.calls)


def fs_grep(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    words = [w for w in WORDS if w in d.contents[name].content]
    if not words:
        raise Rejected("no word")
    word = p.rng.choice(words)
    where = _fs_goto(p, d)
    p.call("grep", file_name=name, pattern=word)
    return Intent(f"Find the lines of '{name}' in {where} that mention '{word}'.", p.calls,
                  (f"Find the lines of '{name}' in {where} that mention a keyword.", f"The keyword is '{word}'."))


def fs_copy(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    copy_name = _fs_new_name(p, d, "." + name.rsplit(".", 1)[-1])
    where = _fs_goto(p, d)
    p.call("cp", source=name, destination=copy_name)
    return Intent(f"Make a copy of '{name}' in {where} and call it '{copy_name}'.", p.calls,
                  (f"Make a copy of '{name}' in {where}.", f"Name the copy '{copy_name}'."))


def fs_archive(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    folder = f"{p.rng.choice(('archive', 'old', 'done', 'backup'))}_{p.rng.randint(1, 9)}"
    if folder in d.contents:
        raise Rejected("exists")
    where = _fs_goto(p, d)
    p.call("mkdir", dir_name=folder)
    p.call("mv", source=name, destination=folder)
    return Intent(f"In {where}, create a folder '{folder}' and move '{name}' into it.", p.calls)


def fs_sort(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    where = _fs_goto(p, d)
    p.call("sort", file_name=name)
    return Intent(f"Sort the lines of '{name}' in {where} alphabetically and show them.", p.calls)


def fs_tail(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name, n = _fs_file(p, d), p.rng.randint(1, 3)
    where = _fs_goto(p, d)
    p.call("tail", file_name=name, lines=n)
    return Intent(f"Show the last {n} line{'s' * (n > 1)} of '{name}' in {where}.", p.calls)


def fs_remove(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    where = _fs_goto(p, d)
    p.call("rm", file_name=name)
    return Intent(f"Delete '{name}' from {where}.", p.calls)


def fs_diff(p: Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=2)
    a, b = p.rng.sample([n for n, c in d.contents.items() if isinstance(c, File)], 2)
    where = _fs_goto(p, d)
    p.call("diff", file_name1=a, file_name2=b)
    return Intent(f"Compare '{a}' and '{b}' in {where} line by line.", p.calls)


def fs_find(p: Plan) -> Intent:
    fs = p.suite("GorillaFileSystem")
    names = [n for d in _fs_dirs(fs) for n in d.contents]
    stem = p.rng.choice(names).split(".")[0].split("_")[0]
    if len(stem) < 3:
        raise Rejected("short")
    p.call("find", path=".", name=stem)
    return Intent(f"Find everything under the current folder whose name contains '{stem}'.", p.calls,
                  ("Find everything under the current folder whose name contains a word I have in mind.",
                   f"The word is '{stem}'."))


def fs_where(p: Plan) -> Intent:
    p.call("pwd")
    p.call("ls", a=True)
    return Intent("Which folder are we in, and what is in it (hidden entries too)?", p.calls)


def fs_append_summary(p: Plan) -> Intent:
    """Two dependent steps: read a file, then write its line count into a new file."""
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    where = _fs_goto(p, d)
    count = p.call("wc", file_name=name, mode="l")["count"]
    report = _fs_new_name(p, d)
    p.call("touch", file_name=report)
    p.call("echo", content=f"{name}: {count} lines", file_name=report)
    return Intent(f"In {where}, count the lines of '{name}' and write '<file name>: <count> lines' into a new "
                  f"file '{report}'.", p.calls)


def fs_usage(p: Plan) -> Intent:
    d = _fs_pick_dir(p)
    where = _fs_goto(p, d)
    readable = p.rng.random() < 0.5
    p.call("du", human_readable=readable)
    return Intent(f"How much disk space does {where} use{' (human-readable)' if readable else ' in bytes'}?", p.calls)


def fs_remove_empty_dir(p: Plan) -> Intent:
    d = _fs_pick_dir(p)
    name = f"tmp_{p.rng.randint(1, 99)}"
    if name in d.contents:
        raise Rejected("exists")
    where = _fs_goto(p, d)
    p.call("mkdir", dir_name=name)
    p.call("rmdir", dir_name=name)
    return Intent(f"In {where}, create a scratch folder '{name}' and then remove it again.", p.calls)


def _fs_dirs(fs) -> list[Directory]:
    out, stack = [], [fs.root]
    while stack:
        d = stack.pop()
        out.append(d)
        stack += [c for c in d.contents.values() if isinstance(c, Directory)]
    return out


INTENTS = {"GorillaFileSystem": (fs_make_dir, fs_write_file, fs_read, fs_count, fs_grep, fs_copy, fs_archive, fs_sort,
                                 fs_tail, fs_remove, fs_diff, fs_find, fs_where, fs_append_summary, fs_usage,
                                 fs_remove_empty_dir)}
