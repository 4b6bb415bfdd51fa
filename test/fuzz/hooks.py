# Schemathesis hooks for the OpenAPI fuzz (test/integration/openapi-fuzz.test.ts).
# Tests only ever talk to this machine: a generated case naming an http(s) URL (an input, a
# reference, a watermark, a webhook) would make the server resolve or fetch it, so such cases are
# dropped before they are sent. The server runs under the test's network guard too, which fails
# the run if anything still tries to leave loopback.
import json
import re

import schemathesis

URL = re.compile(r"(?i)https?:")


@schemathesis.hook
def filter_case(context, case):
    text = json.dumps([case.body, case.query, case.path_parameters, case.headers], default=str)
    return URL.search(text) is None
