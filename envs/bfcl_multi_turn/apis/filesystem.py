"""``GorillaFileSystem``: an in-memory file system navigated one folder at a time.

State compared by the checker: ``root`` (the whole tree; directories compare by name and
contents, files by name and content) and ``long_context``. The current directory is working
state (private). Behaviour follows BFCL's reference, including its corners: ``pwd`` includes
the root folder's name, ``cp`` of a directory shares the copied entries with the original, and
``mv`` of a directory keeps the moved entries' parent links pointing at the old directory.
"""

from __future__ import annotations

from typing import Any

from lfmgym.envs.bfcl_multi_turn.apis import long_context as lc
from lfmgym.envs.bfcl_multi_turn.apis.base import Suite

__all__ = ["GorillaFileSystem", "File", "Directory"]

_BAD_NAME_CHARS = '|/\\?%*:"><'


class File:
    def __init__(self, name: str, content: str = ""):
        self.name = name
        self.content = content

    def __eq__(self, other: object) -> bool:
        return isinstance(other, File) and (self.name, self.content) == (other.name, other.content)

    def __repr__(self) -> str:
        return f"<<File: {self.name}, Content: {self.content}>>"


class Directory:
    def __init__(self, name: str, parent: Directory | None = None):
        self.name = name
        self.parent = parent
        self.contents: dict[str, File | Directory] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Directory) and self.name == other.name and self.contents == other.contents

    def __repr__(self) -> str:
        parent = self.parent.name if self.parent else None
        return f"<Directory: {self.name}, Parent: {parent}, Contents: {self.contents}>"

    def add_file(self, name: str, content: str = "") -> None:
        if name in self.contents:
            raise ValueError(f"File '{name}' already exists in directory '{self.name}'.")
        self.contents[name] = File(name, content)

    def add_directory(self, name: str) -> Directory:
        if name in self.contents:
            raise ValueError(f"Directory '{name}' already exists in directory '{self.name}'.")
        self.contents[name] = Directory(name, self)
        return self.contents[name]

    def get(self, name: str) -> File | Directory | None:
        return self if name == "." else self.contents.get(name)


def _valid_name(name: str) -> bool:
    return not any(c in name for c in _BAD_NAME_CHARS)


class GorillaFileSystem(Suite):
    name = "GorillaFileSystem"
    doc_file = "gorilla_file_system.json"

    def __init__(self) -> None:
        self.root = Directory("/", None)
        self.long_context = False
        self._current_dir = self.root

    def _load_scenario(self, scenario: dict[str, Any], long_context: bool = False) -> None:
        self.long_context = long_context
        self.root = Directory("/", None)
        tree = (scenario or {}).get("root")
        if tree:
            top = next(iter(tree))
            self.root = self._load_directory(tree[top].get("contents", {}), Directory(top, None))
        self._current_dir = self.root

    def _load_directory(self, entries: dict[str, Any], directory: Directory) -> Directory:
        innermost = True
        for name, entry in entries.items():
            if entry["type"] == "directory":
                innermost = False
                directory.contents[name] = self._load_directory(entry.get("contents", {}), Directory(name, directory))
            elif entry["type"] == "file":
                content = entry.get("content", "")
                if self.long_context and name not in lc.FILES_READ_AT_THE_END:
                    content += lc.file_padding()
                directory.contents[name] = File(name, content)
        if innermost and self.long_context:
            for name in lc.padding_files():
                directory.add_file(name)
        return directory

    def _navigate(self, path: str | None) -> Directory | dict[str, str]:
        if path is None or path == ".":
            return self._current_dir
        if path == "/":
            return self.root
        node = self.root if path.startswith("/") else self._current_dir
        for part in path.strip("/").split("/"):
            nxt = node.get(part)
            if not isinstance(nxt, Directory):
                return {"error": f"cd: '{path}': No such file or directory"}
            node = nxt
        return node

    def _file(self, name: str) -> File | None:
        item = self._current_dir.contents.get(name)
        return item if isinstance(item, File) else None

    # ------------------------------------------------------------------ API

    def pwd(self) -> dict[str, str]:
        names, node = [], self._current_dir
        while node is not None:
            names.append(node.name)
            node = node.parent
        return {"current_working_directory": "/" + "/".join(reversed(names))}

    def ls(self, a: bool = False) -> dict[str, list[str]]:
        names = list(self._current_dir.contents)
        if not a:
            names = [n for n in names if not n.startswith(".")]
        return {"current_directory_content": names}

    def cd(self, folder: str) -> dict[str, str]:
        folder = folder.rstrip("/") or "/"
        if folder not in {".", "..", "/"} and "/" in folder:
            return {"error": f"cd: {folder}: Unsupported path. Only one folder level at a time is supported."}
        if folder == "..":
            if self._current_dir.parent:
                self._current_dir = self._current_dir.parent
                return {}
            if self._current_dir == self.root:
                return {"error": "Current directory is already the root. Cannot go back."}
            return {"error": "cd: ..: No such directory"}
        target = self._navigate(folder)
        if isinstance(target, dict):
            return target
        self._current_dir = target
        return {"current_working_directory": target.name}

    def mkdir(self, dir_name: str) -> dict[str, str] | None:
        if not _valid_name(dir_name):
            return {"error": f"mkdir: cannot create directory '{dir_name}': Invalid character"}
        if dir_name in self._current_dir.contents:
            return {"error": f"mkdir: cannot create directory '{dir_name}': File exists"}
        self._current_dir.add_directory(dir_name)
        return None

    def touch(self, file_name: str) -> dict[str, str] | None:
        if not _valid_name(file_name):
            return {"error": f"touch: cannot touch '{file_name}': Invalid character"}
        if file_name in self._current_dir.contents:
            return {"error": f"touch: cannot touch '{file_name}': File exists"}
        self._current_dir.add_file(file_name)
        return None

    def echo(self, content: str, file_name: str | None = None) -> dict[str, str] | None:
        if file_name is None:
            return {"terminal_output": content}
        if not _valid_name(file_name):
            return {"error": f"echo: cannot write to '{file_name}': Invalid character"}
        if not file_name:
            return {"terminal_output": content}
        if file_name not in self._current_dir.contents:
            return {"error": f"echo: cannot write to '{file_name}': No such file"}
        item = self._current_dir.contents[file_name]
        if not isinstance(item, File):
            raise AttributeError("'Directory' object has no attribute '_write'")
        item.content = content
        return None

    def cat(self, file_name: str) -> dict[str, str]:
        if not _valid_name(file_name):
            return {"error": f"cat: '{file_name}': Invalid character"}
        if file_name not in self._current_dir.contents:
            return {"error": f"cat: '{file_name}': No such file or directory"}
        item = self._current_dir.contents[file_name]
        if isinstance(item, File):
            return {"file_content": item.content}
        return {"error": f"cat: '{file_name}': Is a directory"}

    def find(self, path: str = ".", name: str | None = None) -> dict[str, Any]:
        start = self._navigate(path)
        if isinstance(start, dict):
            message = start.get("error", "")
            return {"error": message.replace("cd:", "find:", 1)} if message.startswith("cd:") else start
        matches: list[str] = []

        def walk(directory: Directory, prefix: str) -> None:
            for item_name, item in directory.contents.items():
                item_path = f"{prefix}/{item_name}"
                if name is None or name in item_name:
                    matches.append(item_path)
                if isinstance(item, Directory):
                    walk(item, item_path)

        walk(start, path.rstrip("/"))
        return {"matches": matches}

    def wc(self, file_name: str, mode: str = "l") -> dict[str, Any]:
        if mode not in ("l", "w", "c"):
            return {"error": f"wc: invalid mode '{mode}'"}
        item = self._file(file_name)
        if item is None:
            return {"error": f"wc: {file_name}: No such file or directory"}
        if mode == "l":
            return {"count": len(item.content.splitlines()), "type": "lines"}
        if mode == "w":
            return {"count": len(item.content.split()), "type": "words"}
        return {"count": len(item.content), "type": "characters"}

    def sort(self, file_name: str) -> dict[str, str]:
        item = self._file(file_name)
        if item is None:
            return {"error": f"sort: {file_name}: No such file or directory"}
        return {"sorted_content": "\n".join(sorted(item.content.splitlines()))}

    def grep(self, file_name: str, pattern: str) -> dict[str, Any]:
        item = self._file(file_name)
        if item is None:
            return {"error": f"grep: {file_name}: No such file or directory"}
        return {"matching_lines": [line for line in item.content.splitlines() if pattern in line]}

    def du(self, human_readable: bool = False) -> dict[str, str]:
        def size(item: File | Directory) -> int:
            if isinstance(item, File):
                return len(item.content.encode("utf-8"))
            return sum(size(child) for child in item.contents.values())

        total: float = size(self._current_dir)
        if not human_readable:
            return {"disk_usage": f"{total} bytes"}
        for unit in ("B", "KB", "MB", "GB", "TB"):
            if total < 1024:
                return {"disk_usage": f"{total:.2f} {unit}"}
            total /= 1024
        return {"disk_usage": f"{total:.2f} PB"}

    def tail(self, file_name: str, lines: int = 10) -> dict[str, str]:
        item = self._file(file_name)
        if item is None:
            return {"error": f"tail: {file_name}: No such file or directory"}
        content = item.content.splitlines()
        lines = min(lines, len(content))
        return {"last_lines": "\n".join(content[-lines:])}

    def diff(self, file_name1: str, file_name2: str) -> dict[str, str]:
        first, second = self._file(file_name1), self._file(file_name2)
        if first is None or second is None:
            return {"error": f"diff: {file_name1} or {file_name2}: No such file or directory"}
        pairs = zip(first.content.splitlines(), second.content.splitlines())
        return {"diff_lines": "\n".join(f"- {a}\n+ {b}" for a, b in pairs if a != b)}

    def mv(self, source: str, destination: str) -> dict[str, str]:
        here = self._current_dir
        if source not in here.contents:
            return {"error": f"mv: cannot move '{source}': No such file or directory"}
        item = here.contents[source]
        if "/" in destination:
            return {"error": "mv: path not allowed in destination. Provide only a file or directory name."}
        if destination in here.contents:
            target = here.contents[destination]
            if not isinstance(target, Directory):
                return {"error": f"mv: cannot move '{source}' to '{destination}': Not a directory"}
            if source in target.contents:
                return {"error": f"mv: cannot move '{source}' to '{destination}/{source}': File exists"}
            here.contents.pop(source)
            _place(target, source, item, share=True)
            return {"result": f"'{source}' moved to '{destination}/{source}'"}
        here.contents.pop(source)
        _place(here, destination, item, share=True)
        return {"result": f"'{source}' moved to '{destination}'"}

    def rm(self, file_name: str) -> dict[str, str]:
        if file_name not in self._current_dir.contents:
            return {"error": f"rm: cannot remove '{file_name}': No such file or directory"}
        self._current_dir.contents.pop(file_name)
        return {"result": f"'{file_name}' removed"}

    def rmdir(self, dir_name: str) -> dict[str, str]:
        item = self._current_dir.contents.get(dir_name)
        if item is None:
            return {"error": f"rmdir: cannot remove '{dir_name}': No such file or directory"}
        if not isinstance(item, Directory):
            return {"error": f"rmdir: cannot remove '{dir_name}': Not a directory"}
        if item.contents:
            return {"error": f"rmdir: cannot remove '{dir_name}': Directory not empty"}
        self._current_dir.contents.pop(dir_name)
        return {"result": f"'{dir_name}' removed"}

    def cp(self, source: str, destination: str) -> dict[str, str]:
        here = self._current_dir
        if source not in here.contents:
            return {"error": f"cp: cannot copy '{source}': No such file or directory"}
        item = here.contents[source]
        if "/" in destination:
            return {"error": "cp: path not allowed in destination. Provide only a file or directory name."}
        if destination in here.contents:
            target = here.contents[destination]
            if not isinstance(target, Directory):
                return {"error": f"cp: cannot copy '{source}' to '{destination}': Not a directory"}
            _place(target, source, item, share=False)  # raises when the name is taken, like BFCL
            return {"result": f"'{source}' copied to '{destination}/{source}'"}
        _place(here, destination, item, share=False)
        return {"result": f"'{source}' copied to '{destination}'"}


def _place(directory: Directory, name: str, item: File | Directory, share: bool) -> None:
    """Put ``item`` into ``directory`` as ``name``: a new file with the same content, or a new
    directory holding the same entries (the same mapping when moving, a shallow copy when
    copying), as BFCL does."""
    if isinstance(item, File):
        directory.add_file(name, item.content)
    else:
        directory.add_directory(name).contents = item.contents if share else dict(item.contents)
