"""Print the functions of one object file that ran, from a callgrind output file.

    callgrind_functions.py CALLGRIND_OUT OBJECT_PATH

Callgrind names objects and functions once, as `ob=(N) name` / `fn=(N) name`, and refers to
them by number afterwards; cost lines follow the `fn=` of the function that spent them.
Every function that ran has a cost line of its own, so the functions listed are exactly
those that executed at least one instruction.
"""

import re
import sys

SPEC = re.compile(r"\((\d+)\)(?: (.*))?$")


def resolve(table, spec):
    m = SPEC.match(spec)
    if not m:
        return spec
    if m.group(2) is not None:
        table[m.group(1)] = m.group(2)
    return table[m.group(1)]


def main(path, wanted):
    objects, functions = {}, {}
    current_object = None
    ran = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("ob="):
                current_object = resolve(objects, line[3:])
            elif line.startswith("cob="):
                resolve(objects, line[4:])
            elif line.startswith("fn="):
                name = resolve(functions, line[3:])
                if current_object == wanted:
                    # `name'2` is the same function entered recursively
                    ran.add(re.sub(r"'\d+$", "", name))
            elif line.startswith("cfn="):
                resolve(functions, line[4:])
    # Callgrind's own names ("(below main)") and bare addresses (code without a symbol, such
    # as PLT stubs) are not symbols the linker could place.
    for name in sorted(ran):
        if not name.startswith(("(", "0x")):
            print(name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
