"""Authoring helper: builds a .ipynb (tslab kernel) from a compact cell list so notebook sources stay
reviewable. Usage from another script: write_notebook(path, [("md", text), ("ts", code), ...])."""
import json
import os


def write_notebook(path, cells):
    nb = {
        "cells": [],
        "metadata": {
            "kernelspec": {"display_name": "TypeScript", "language": "typescript", "name": "tslab"},
            "language_info": {"codemirror_mode": {"mode": "typescript", "name": "javascript", "typescript": True},
                              "file_extension": ".ts", "mimetype": "text/typescript", "name": "typescript",
                              "version": "3.7.2"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, (kind, text) in enumerate(cells):
        src = text.strip("\n").splitlines(keepends=True)
        cell_id = f"{os.path.splitext(os.path.basename(path))[0]}-{i:02d}"
        if kind == "md":
            nb["cells"].append({"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": src})
        else:
            nb["cells"].append({"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": None,
                                "outputs": [], "source": src})
    with open(path, "w") as f:
        json.dump(nb, f, indent=1)
        f.write("\n")
