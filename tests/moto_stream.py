#!/usr/bin/env python3
"""Reads a table's DynamoDB stream from moto_server and prints the Lambda events the template's
event source mapping would hand to FUNCTION's EVENT (its FilterCriteria applied, BatchSize
records per event), as a JSON list. moto's own mappings are switched off (tests/moto_deploy.py),
so the tests deliver stream batches as they do SQS batches. SKIP records that passed the filter
are left out (a mapping's position: what it already delivered). TEMPLATE "-" means no mapping:
every record, 100 per event.

usage: moto_stream.py ENDPOINT TABLE TEMPLATE FUNCTION EVENT [SKIP]
"""
import datetime
import json
import sys

import boto3
from samtranslator.yaml_helper import yaml_parse


def matches(pattern, value):
    """EventBridge-style pattern matching, the subset Lambda filters use here: nested objects,
    lists of allowed values, and {"prefix": …}."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        for allowed in pattern:
            if isinstance(allowed, dict) and "prefix" in allowed:
                if isinstance(value, str) and value.startswith(allowed["prefix"]):
                    return True
            elif allowed == value:
                return True
        return False
    sys.exit(f"unsupported filter pattern element {pattern!r}")


def main():
    endpoint, table, template_path, function, event = sys.argv[1:6]
    skip = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    props = {}
    if template_path != "-":
        with open(template_path) as f:
            props = yaml_parse(f.read())["Resources"][function]["Properties"]["Events"][event]["Properties"]
    patterns = [json.loads(flt["Pattern"]) for flt in props.get("FilterCriteria", {}).get("Filters", [])]
    batch_size = int(props.get("BatchSize", 100))

    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    arn = boto3.client("dynamodb", **kw).describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", **kw)
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        while it:
            out = streams.get_records(ShardIterator=it, Limit=1000)
            records.extend(out["Records"])
            it = out.get("NextShardIterator") if out["Records"] else None

    def plain(v):
        if isinstance(v, datetime.datetime):
            return v.timestamp()
        if isinstance(v, bytes):
            import base64

            return base64.b64encode(v).decode()
        raise TypeError(type(v))

    events, batch, passed = [], [], 0
    for r in json.loads(json.dumps(records, default=plain)):
        r.setdefault("eventSource", "aws:dynamodb")
        r.setdefault("awsRegion", "us-east-1")
        r["eventSourceARN"] = arn
        if patterns and not any(matches(p, r) for p in patterns):
            continue
        passed += 1
        if passed <= skip:
            continue
        batch.append(r)
        if len(batch) == batch_size:
            events.append({"Records": batch})
            batch = []
    if batch:
        events.append({"Records": batch})
    json.dump({"stream_records": len(records), "passed": passed, "events": events}, sys.stdout)


if __name__ == "__main__":
    main()
