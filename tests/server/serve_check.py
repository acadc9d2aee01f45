#!/usr/bin/python3
"""hone serve as a user runs it: a child process on a free port, a request queued behind a long
max_queue_delay, then SIGTERM: the queued request must still be answered (200) and the server
must exit 0; a request after that finds no server.

  tests/server/serve_check.py path/to/hone
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    hone = sys.argv[1]
    tmp = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(tmp, "slow", "1"))
        shutil.copy(os.path.join(ROOT, "examples", "digits_mlp.onnx"),
                    os.path.join(tmp, "slow", "1", "model.onnx"))
        with open(os.path.join(tmp, "slow", "config.pbtxt"), "w") as f:
            # A lone request waits 1.5 s for company before it runs.
            f.write("max_batch_size: 8\n"
                    "dynamic_batching { max_queue_delay_microseconds: 1500000 "
                    "preferred_batch_size: [ 8 ] }\n")
        proc = subprocess.Popen([hone, "serve", "--model-repository", tmp, "--http-port", "0",
                                 "--metrics-port", "-1", "--grpc-port", "-1", "--host", "127.0.0.1", "--threads", "1"],
                                stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/v2", line)
        assert m, f"no address in: {line!r}"
        url = f"http://127.0.0.1:{m.group(1)}/v2/models/slow/infer"
        body = json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32",
                                       "data": [0.5] * 64}]}).encode()
        result = {}

        def send():
            try:
                with urllib.request.urlopen(urllib.request.Request(url, body), timeout=30) as r:
                    result["status"] = r.status
                    result["body"] = json.loads(r.read())
            except Exception as e:  # noqa: BLE001 (reported below)
                result["error"] = repr(e)

        t = threading.Thread(target=send)
        t.start()
        threading.Event().wait(0.5)  # the request is in the queue now
        proc.send_signal(signal.SIGTERM)
        t.join()
        rc = proc.wait(timeout=30)
        rest = proc.stderr.read()
        assert result.get("status") == 200, f"the queued request was lost: {result} {rest}"
        assert result["body"]["outputs"][0]["shape"] == [1, 10], result
        assert rc == 0, f"exit status {rc}: {rest}"
        assert "stopping" in rest, rest
        try:
            urllib.request.urlopen(urllib.request.Request(url, body), timeout=5)
            raise AssertionError("the server still answers after SIGTERM")
        except OSError:
            pass
        print("serve_check: ok (a queued request answered after SIGTERM, exit 0)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
