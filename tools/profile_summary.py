"""Self time per operator of a PyTorch profiler trace (JniUtils.stopProfile's chrome-trace JSON).

Run the profiled process with CUDA_LAUNCH_BLOCKING=1 so each operator's span includes its GPU work.
    python3 tools/profile_summary.py trace.json [rows]
"""
import collections, json, sys

events = json.load(open(sys.argv[1]))
events = events.get("traceEvents", events) if isinstance(events, dict) else events
spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
by_thread = collections.defaultdict(list)
for e in spans:
    by_thread[(e.get("pid"), e.get("tid"))].append(e)
self_time = collections.Counter()
calls = collections.Counter()
for thread in by_thread.values():
    thread.sort(key=lambda e: (e["ts"], -e["dur"]))
    stack = []  # [event, time taken by children]
    def close_until(ts):
        while stack and stack[-1][0]["ts"] + stack[-1][0]["dur"] <= ts:
            e, children = stack.pop()
            self_time[e["name"]] += e["dur"] - children
            calls[e["name"]] += 1
            if stack:
                stack[-1][1] += e["dur"]
    for e in thread:
        close_until(e["ts"])
        stack.append([e, 0])
    close_until(float("inf"))
total = sum(self_time.values())
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 25
span = max(e["ts"] + e["dur"] for e in spans) - min(e["ts"] for e in spans)
print(f"{'operator':48s} {'self ms':>9s} {'share':>6s} {'calls':>7s}   (total {total / 1000:.1f} ms, "
      f"wall span {span / 1000:.1f} ms, {len(by_thread)} threads)")
for name, t in self_time.most_common(rows):
    print(f"{name[:48]:48s} {t / 1000:9.2f} {100 * t / total:5.1f}% {calls[name]:7d}")
