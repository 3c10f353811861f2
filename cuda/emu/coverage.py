# coverage.py SITES_DIR COVERAGE_FILE — which CUDA kernel launch sites the
# emulated test run reached (run.sh with EMU_COVERAGE=1 calls it).
# SITES_DIR holds transform.py's emu_<family>.sites (every <<<...>>> launch of
# the emulated .cu files); COVERAGE_FILE has "count<TAB>site<TAB>enclosing
# function" lines (PCN_EMU_COVERAGE, appended by every emulated process).
import collections, glob, os, re, sys
sites_dir, cov = sys.argv[1], sys.argv[2]
sites = []
for f in sorted(glob.glob(os.path.join(sites_dir, 'emu_*.sites'))):
    sites += [l.rstrip('\n') for l in open(f) if l.strip()]
hits = collections.defaultdict(lambda: collections.Counter())
if os.path.exists(cov):
    for l in open(cov):
        n, site, where = l.rstrip('\n').split('\t', 2)
        m = re.search(r'\[with (.*)\]$', where)
        hits[site][m.group(1) if m else ''] += int(n)
missed = 0
for s in sites:
    h = hits.get(s)
    if not h:
        missed += 1
        print('  NEVER   %s' % s)
    else:
        inst = '; '.join('%s: %d' % (k or '-', v) for k, v in sorted(h.items()))
        print('  %6d  %s   {%s}' % (sum(h.values()), s, inst))
print('emu coverage: %d of %d launch sites reached' % (len(sites) - missed, len(sites)))
