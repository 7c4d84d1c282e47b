"""Part size against a real Lambda: `initiate` returns every part URL in one answer under a 6 MB limit.

docs/format.md, "Part size", has the arithmetic. A real S3 upload_part URL presigned with a Lambda role's
session token is ~1.5-2 KB; at 5 MiB a part, the answer for a 10 GB file (1,908 parts) would be ~4 MB, and
~6 MB once URLs are 3 KB: too close. choose_num_parts stops at 1,000 parts (the web UI's own maximum:
10 GB in 10 MiB slices) and lets the parts grow.
"""

from __future__ import annotations

import json
import math

import pytest

from sgsend_desktop.core.api import Capabilities
from sgsend_desktop.core.errors import PayloadTooLargeError
from sgsend_desktop.core.upload import (
    LAMBDA_BODY_LIMIT,
    MAX_INITIATE_PARTS,
    PART_URL_ESTIMATE,
    S3_MAX_PART_SIZE,
    choose_num_parts,
    initiate_response_estimate,
)

CAPS = Capabilities(multipart_upload=True)
MiB, GB = 1024 * 1024, 10**9
# The shape of a boto3 presigned upload_part URL signed with temporary (Lambda role) credentials; the
# session token of a Lambda role is typically 1,000-1,400 base64 characters ('/', '+', '=' become %XX).
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE" + "A" * 1100 + "%2F" * 20 + "%2B" * 20 + "%3D%3D"
REAL_LIKE_URL = (
    "https://123456789012--sgraph-send--eu-west-2.s3.eu-west-2.amazonaws.com/sg-send__data/sg-send-api__v1.0/"
    "shared/transfers/01/0123456789ab/payload?uploadId=" + "x" * 140 + "&partNumber=10000"
    "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAXXXXXXXXXXXXXXXX%2F20260501%2Feu-west-2%2Fs3"
    "%2Faws4_request&X-Amz-Date=20260501T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=" + SESSION_TOKEN + "&X-Amz-Signature=" + "f" * 64
)


def initiate_answer(num_parts: int, url: str = REAL_LIKE_URL) -> int:
    """Bytes of upstream's initiate answer (FastAPI's JSON) for ``num_parts`` URLs like ``url``."""
    body = {"transfer_id": "0123456789ab", "upload_id": "x" * 140, "part_size": 5 * MiB,
            "part_urls": [{"part_number": n, "upload_url": url} for n in range(1, num_parts + 1)]}
    return len(json.dumps(body, separators=(",", ":")))


def test_our_url_estimate_is_on_the_high_side_of_a_real_one() -> None:
    assert 1500 < len(REAL_LIKE_URL) < PART_URL_ESTIMATE
    assert initiate_answer(1000) < initiate_response_estimate(1000)


def test_where_5_mib_parts_would_break_the_lambda_limit() -> None:
    # the largest part count whose answer fits, at our estimate and at the ~1 KB some quote
    at_2k = (LAMBDA_BODY_LIMIT - 256) // (PART_URL_ESTIMATE + 48)
    at_1k = (LAMBDA_BODY_LIMIT - 256) // (1024 + 48)
    assert (at_2k, at_1k) == (3001, 5868)
    assert at_2k * 5 * MiB == 15_733_882_880       # 15.7 GB: the largest file at 5 MiB parts
    assert at_1k * 5 * MiB == 30_765_219_840       # 30.8 GB with 1 KB URLs
    assert initiate_answer(math.ceil(10 * GB / (5 * MiB)), REAL_LIKE_URL + "x" * 1300) > 6 * 10**6


@pytest.mark.parametrize("size", [6 * MiB, 1 * GB, 5 * GB, 5_242_880_000, 5_242_880_001, 10 * GB,
                                  10 * 1024**3, 100 * GB, 1000 * GB])
def test_initiate_stays_far_below_the_limit_for_any_size(size: int) -> None:
    parts = choose_num_parts(size, CAPS)
    part_size = max(5 * MiB, math.ceil(size / parts))  # what the server then computes
    assert parts * part_size >= size and parts <= MAX_INITIATE_PARTS
    assert initiate_response_estimate(parts) < LAMBDA_BODY_LIMIT / 2.5
    assert initiate_answer(parts) < LAMBDA_BODY_LIMIT / 2.5
    # ...and it still fits when a real URL is almost three times our (high) estimate
    assert initiate_answer(parts, REAL_LIKE_URL.ljust(3 * PART_URL_ESTIMATE - 100, "x")) < LAMBDA_BODY_LIMIT


def test_parts_stay_at_5_mib_until_the_switch_then_grow() -> None:
    assert choose_num_parts(1024**3, CAPS) == 205                      # 5 MiB parts
    assert choose_num_parts(MAX_INITIATE_PARTS * 5 * MiB, CAPS) == 1000  # 5.24 GB: still 5 MiB
    assert choose_num_parts(MAX_INITIATE_PARTS * 5 * MiB + 1, CAPS) == 1000  # bigger parts from here
    assert math.ceil(10 * GB / choose_num_parts(10 * GB, CAPS)) == 10 * GB // 1000  # 10 GB: 10 MB parts


def test_a_server_with_fewer_parts_and_the_s3_ceiling() -> None:
    assert choose_num_parts(10 * GB, Capabilities(multipart_upload=True, max_parts=500)) == 500
    assert choose_num_parts(1000 * S3_MAX_PART_SIZE, CAPS) == 1000
    with pytest.raises(PayloadTooLargeError, match="too big"):
        choose_num_parts(1000 * S3_MAX_PART_SIZE + 1, CAPS)
