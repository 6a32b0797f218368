"""AWS Signature Version 4 verification for vpc-sim, written from AWS's description of the
algorithm (canonical request, string to sign, derived signing key), independent of quasar's C++
signer so the two check each other. Header-signed requests (Authorization: AWS4-HMAC-SHA256 ...)
and presigned query strings (X-Amz-Signature=...) are accepted.
"""

import calendar
import hashlib
import hmac
import time
import urllib.parse

from vpc_state import Ec2Error

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60  # EC2's RequestExpired window

SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult the "
                      "service documentation for details.")


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def uri_encode(text, keep_slash=False):
    """RFC 3986: everything but A-Z a-z 0-9 - _ . ~ percent-encoded (upper-case hex)."""
    return urllib.parse.quote(text, safe="-_.~" + ("/" if keep_slash else ""))


def canonical_query(raw_query, drop=()):
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        k, _, v = part.partition("=")
        k, v = urllib.parse.unquote_plus(k), urllib.parse.unquote_plus(v)
        if k in drop:
            continue
        pairs.append((uri_encode(k), uri_encode(v)))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def canonical_request(method, raw_path, raw_query, headers, signed, payload_hash, drop=()):
    """`headers`: (name, value) pairs as received. Non-S3 services encode the path as sent
    once more (AWS: "each path segment must be URI-encoded twice")."""
    by_name = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(" ".join(value.split()))
    lines = []
    for name in signed:
        if name not in by_name:
            raise Ec2Error("SignatureDoesNotMatch",
                           "The signed header '%s' is not in the request." % name, 403)
        lines.append("%s:%s\n" % (name, ",".join(by_name[name])))
    return "\n".join([method, uri_encode(raw_path or "/", keep_slash=True),
                      canonical_query(raw_query, drop), "".join(lines), ";".join(signed),
                      payload_hash])


def string_to_sign(amz_date, scope, creq):
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])


def _parse_authorization(value):
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise Ec2Error("IncompleteSignature",
                       "Unsupported authorization algorithm '%s'." % algorithm)
    fields = {}
    for part in rest.split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(k):
            raise Ec2Error("IncompleteSignature",
                           "Authorization header requires '%s' parameter." % k)
    return fields["Credential"], fields["SignedHeaders"], fields["Signature"]


def _amz_time(text):
    try:
        return calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise Ec2Error("AuthFailure", "Invalid X-Amz-Date '%s'." % text, 401)


def verify(method, raw_path, raw_query, headers, body, creds, region, service="ec2", now=None):
    """Raises Ec2Error unless the request is signed by `creds` ({accessKeyId, secretAccessKey,
    sessionToken}) for `region`/`service` within EC2's 15-minute window."""
    hdr = {k.lower(): v for k, v in headers}
    query = urllib.parse.parse_qs(raw_query or "", keep_blank_values=True)
    presigned = "X-Amz-Signature" in query
    if presigned:
        if query.get("X-Amz-Algorithm", [""])[0] != ALGORITHM:
            raise Ec2Error("IncompleteSignature", "Unsupported X-Amz-Algorithm.")
        credential = query.get("X-Amz-Credential", [""])[0]
        signed_text = query.get("X-Amz-SignedHeaders", [""])[0]
        signature = query["X-Amz-Signature"][0]
        amz_date = query.get("X-Amz-Date", [""])[0]
        token = query.get("X-Amz-Security-Token", [""])[0]
    elif "authorization" in hdr:
        credential, signed_text, signature = _parse_authorization(hdr["authorization"])
        amz_date = hdr.get("x-amz-date", "")
        token = hdr.get("x-amz-security-token", "")
    else:
        raise Ec2Error("MissingAuthenticationToken",
                       "The request must contain either a valid (registered) AWS access key ID "
                       "or X.509 certificate.", 401)

    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise Ec2Error("IncompleteSignature", "Credential '%s' is malformed." % credential)
    key_id, date, cred_region, cred_service = parts[:4]
    if key_id != creds["accessKeyId"]:
        raise Ec2Error("AuthFailure",
                       "AWS was not able to validate the provided access credentials", 401)
    if cred_region != region or cred_service != service:
        raise Ec2Error("AuthFailure", "Credential should be scoped to a valid region and to the "
                       "service '%s', not '%s/%s'." % (service, cred_region, cred_service), 401)
    if not amz_date:
        raise Ec2Error("AuthFailure", "The request has no X-Amz-Date.", 401)
    if not amz_date.startswith(date):
        raise Ec2Error("AuthFailure", "Credential date %s does not match X-Amz-Date %s." %
                       (date, amz_date), 401)
    now = time.time() if now is None else now
    if abs(now - _amz_time(amz_date)) > MAX_SKEW_SECONDS:
        raise Ec2Error("RequestExpired", "Request has expired. Timestamp date is %s." % amz_date)
    if token != creds.get("sessionToken", ""):
        raise Ec2Error("AuthFailure", "The security token included in the request is invalid.",
                       401)

    signed = signed_text.split(";")
    if "host" not in signed:
        raise Ec2Error("IncompleteSignature", "The host header must be signed.")
    payload_hash = hashlib.sha256(body).hexdigest()
    sent_hash = hdr.get("x-amz-content-sha256")
    if sent_hash is not None and sent_hash != payload_hash:
        raise Ec2Error("SignatureDoesNotMatch", "The provided 'x-amz-content-sha256' header does "
                       "not match what was computed.", 403)
    creq = canonical_request(method, raw_path, raw_query, headers, signed, payload_hash,
                             drop=("X-Amz-Signature",) if presigned else ())
    scope = "/".join([date, region, service, "aws4_request"])
    sts = string_to_sign(amz_date, scope, creq)
    want = hmac.new(signing_key(creds["secretAccessKey"], date, region, service), sts.encode(),
                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature.lower()):
        raise Ec2Error("SignatureDoesNotMatch", SIGNATURE_MISMATCH, 403)
