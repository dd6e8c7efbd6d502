#!/usr/bin/env python3
"""A hostile CrowdSec local API for test_crowdsec.sh: the full set holds one
good ban among bad decisions; later answers are, in turn, not JSON, wrongly
typed, over the bouncer's 64 MiB cap, an HTTP error, and an empty delta.
Usage: crowdsec_hostile.py PORT KEY"""
import http.server
import sys

PORT, KEY = int(sys.argv[1]), sys.argv[2]
GOOD = ('{"id":1,"type":"ban","scope":"Ip","value":"10.11.0.88",'
        '"duration":"1h","origin":"cscli","scenario":"x"}')
FULL = ('{"deleted":null,"new":[' + GOOD + ',1,null,"x",{},'
        '{"id":2,"type":"ban","scope":"Ip","value":"10.11.0.300","duration":"1h"},'
        '{"id":3,"type":"ban","scope":"Range","value":"10.0.0.0/99","duration":"1h"},'
        '{"id":4,"type":"ban","scope":"Ip","value":"10.11.0.89","duration":"forever"},'
        '{"id":"5","type":"ban","scope":"Ip","value":"10.11.0.90","duration":"1h"},'
        '{"id":6,"type":["ban"],"scope":"Ip","value":"10.11.0.91","duration":"1h"}]}')
LATER = [b'{"new":[', b'{"new":{"a":1},"deleted":7}', None, 500, b'{"new":null,"deleted":null}']
state = {"n": 0}


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self):
        if self.headers.get("X-Api-Key") != KEY:
            return self.answer(403, b'{"message":"access forbidden"}')
        if "startup=true" in self.path:
            return self.answer(200, FULL.encode())
        what = LATER[state["n"] % len(LATER)]
        state["n"] += 1
        if what is None:
            return self.answer(200, b" " * (65 << 20))
        if isinstance(what, int):
            return self.answer(what, b"oops")
        return self.answer(200, what)


http.server.HTTPServer(("127.0.0.1", PORT), H).serve_forever()
