#!/usr/bin/env python3
"""The template `sam local` runs: template.yaml as it is, except that each
function is built by one make rule instead of `cargo lambda build`: the
workspace's debug build of the Lambda binaries (cargo builds again only what
changed), copied as `bootstrap`. Run by scripts/sam-local.sh.

    sam_local_stage.py ROOT OUT CARGO-BUILD-COMMAND
"""

import re
import sys
from pathlib import Path

root, out, cargo_build = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
text = (root / "template.yaml").read_text()
pattern = re.compile(
    r"^  (\w+Function):\n    Type: AWS::Serverless::Function\n    Metadata:\n"
    r"      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: ([\w-]+)\n",
    re.M,
)
found = pattern.findall(text)
if len(found) != 4:
    sys.exit(f"template.yaml: wanted four functions built by cargo lambda, found {found}")
for logical, binary in found:
    d = out / logical
    d.mkdir(parents=True)
    (d / "Makefile").write_text(
        f"build-{logical}:\n\tcd {root} && {cargo_build}\n"
        f"\tcp {root}/target/debug/{binary} $(ARTIFACTS_DIR)/bootstrap\n"
    )
    text = text.replace(
        f"      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: {binary}\n",
        "      BuildMethod: makefile\n",
        1,
    )
    line = f"      CodeUri: functions/{binary}\n"
    if text.count(line) != 1:
        sys.exit(f"template.yaml: wanted {line.strip()!r} once")
    text = text.replace(line, f"      CodeUri: {d}\n")
(out / "template.yaml").write_text(text)
