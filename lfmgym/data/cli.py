"""``lfmgym data``: the datasets bundled with lfmgym, their sizes, license and source.

    lfmgym data            # table
    lfmgym data --files    # and every file of each dataset
    lfmgym data --json
"""

from __future__ import annotations

import json

__all__ = ["add_commands"]


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("data", help="list the bundled datasets (sizes, license, source)",
                              description="Datasets shipped inside lfmgym. Use them by name: "
                                          "--env-arg math.data=gsm8k, `lfmgym eval bfcl` (BFCL by default), "
                                          "--env-arg tool_calling.bfcl=live_simple.")
    p.add_argument("--files", action="store_true", help="also list every file of each dataset")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_data)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _cmd_data(args) -> int:
    from lfmgym.data import datasets

    rows = datasets()
    if args.json:
        print(json.dumps(rows if args.files else [{k: v for k, v in r.items() if k != "files"} for r in rows],
                         indent=2))
        return 0
    for r in rows:
        print(f"{r['name']}: {r['description']}")
        print(f"  files    {r['n_files']}, {_mb(r['bytes'])} ({_mb(r['stored_bytes'])} stored, gzip)")
        print(f"  license  {r['license']} (lfmgym/data/{r['license_file']})")
        print(f"  source   {r['source']}")
        if args.files:
            for f in r["files"]:
                print(f"    {f}")
    return 0
