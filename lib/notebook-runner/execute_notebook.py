"""Executes a notebook with nbclient (Debian's Jupyter) and reports the failing cell in JSON.

nbconvert alone loses tslab's error text (tslab sends it on stderr, and the error reply has no message), so
the TypeScript side calls this driver: it writes the executed notebook, or on failure the partially executed
one, and prints {"ok": true} or {"ok": false, "cell": i, "source": ..., "stderr": ..., "error": ...}.

    /usr/bin/python3 execute_notebook.py IN.ipynb OUT.ipynb FAILED.ipynb KERNEL TIMEOUT_SECONDS
"""
import json
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError


def text(out):
    t = out.get("text", "")
    return "".join(t) if isinstance(t, list) else t


def main():
    src, out, failed, kernel, timeout = sys.argv[1:6]
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(nb, timeout=int(timeout), kernel_name=kernel,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}})
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        code = [c for c in nb.cells if c.cell_type == "code"]
        ran = [i for i, c in enumerate(code) if c.get("execution_count") is not None]
        i = ran[-1] if ran else 0
        cell = code[i] if code else {"source": "", "outputs": []}
        stderr = "".join(text(o) for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr")
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", []) if o.get("output_type") == "error" and o.get("evalue")]
        nbformat.write(nb, failed)
        timed_out = isinstance(err, CellTimeoutError)
        print(json.dumps({"ok": False, "cell": i + 1, "source": cell.get("source", ""), "stderr": stderr,
                          "error": "; ".join(errors) or ("cell timed out" if timed_out else "")}))
        return
    try:
        # Like `jupyter trust`: outputs we just produced are ours, so Jupyter may run their scripts (the
        # inline plotly figures) when the executed notebook is opened on this machine.
        from nbformat.sign import NotebookNotary
        NotebookNotary().sign(nb)
    except Exception:  # a read-only or missing signature database only costs the trust mark
        pass
    nbformat.write(nb, out)
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main()
