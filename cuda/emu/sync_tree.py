# sync_tree.py STAGE WORK — copy the staged source tree of an emulation build into
# its build directory, only what changed (unchanged files keep their mtimes, so
# ninja rebuilds little), and delete what the stage no longer has. Used by
# build_stage.sh (run.sh, run_device.sh).
import filecmp, os, shutil, sys
stage, work = sys.argv[1], sys.argv[2]
for top in ("CMakeLists.txt", "pyproject.toml", "csrc", "pyconvnet", "tests"):
    s, w = os.path.join(stage, top), os.path.join(work, top)
    if os.path.isfile(s):
        if not (os.path.exists(w) and filecmp.cmp(s, w, shallow=False)): shutil.copy2(s, w)
        continue
    want = set()
    for d, _, files in os.walk(s):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), s); want.add(rel)
            dst = os.path.join(w, rel)
            if not (os.path.exists(dst) and filecmp.cmp(os.path.join(d, f), dst, shallow=False)):
                os.makedirs(os.path.dirname(dst), exist_ok=True); shutil.copy2(os.path.join(d, f), dst)
                os.utime(dst)  # newer than any object built from the old text
    for d, _, files in os.walk(w):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), w)
            if rel not in want and "__pycache__" not in rel and not (top == "pyconvnet" and f.startswith("_C")):
                os.remove(os.path.join(d, f))
