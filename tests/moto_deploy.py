#!/usr/bin/env python3
"""Deploys infra/template.yaml to a running moto_server and prints the stack's outputs as JSON.

moto does not run the SAM transform itself, so the template is translated here with
aws-sam-translator (as `sam deploy` would), with every function's CodeUri pointed at a zip in
moto's S3. moto cannot run the functions (that needs Docker); the tests invoke the handlers
in-process with the real event shapes, against the resources this stack created.

usage: moto_deploy.py ENDPOINT STACK_NAME TEMPLATE
"""
import io
import json
import os
import sys
import time
import zipfile

import boto3
from samtranslator.public.translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


# Resource types moto's CloudFormation cannot create (its stack fails on a reference to one).
# What refers to them (the URL's permission, an output) goes with them; the tests invoke the
# receiver with the function URL's event shape instead.
UNSUPPORTED = {"AWS::Lambda::Url"}


def is_stream_mapping(resource):
    """A mapping from a DynamoDB stream: moto hands every stream record to the function (which
    it cannot run) and then forgets the record, whether or not the mapping is enabled, and even
    after the mapping is deleted. The tests read the stream and deliver its batches instead
    (tests/moto_stream.py), so this mapping is not created."""
    arn = resource.get("Properties", {}).get("EventSourceArn", {})
    return resource["Type"] == "AWS::Lambda::EventSourceMapping" and "StreamArn" in json.dumps(arn)


def drop_unsupported(template):
    dropped = {k for k, r in template["Resources"].items() if r["Type"] in UNSUPPORTED or is_stream_mapping(r)}
    while True:
        refs = {
            k
            for k, r in template["Resources"].items()
            if k not in dropped and any(f'"{d}"' in json.dumps(r) or f'"{d}.' in json.dumps(r) for d in dropped)
        }
        if not refs:
            break
        dropped |= refs
    for k in dropped:
        del template["Resources"][k]
    for k, o in list(template.get("Outputs", {}).items()):
        if any(f'"{d}"' in json.dumps(o) or f'"{d}.' in json.dumps(o) for d in dropped):
            del template["Outputs"][k]


def main():
    endpoint, stack, template_path = sys.argv[1:4]
    # The translator resolves pseudo parameters (region, partition) from the environment.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    s3 = boto3.client("s3", **kw)
    cfn = boto3.client("cloudformation", **kw)
    iam = boto3.client("iam", **kw)

    artifacts = f"{stack}-artifacts"
    s3.create_bucket(Bucket=artifacts)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho 'built by cargo lambda in a real deployment'\n")
    s3.put_object(Bucket=artifacts, Key="function.zip", Body=buf.getvalue())

    with open(template_path) as f:
        sam = yaml_parse(f.read())
    for res in sam["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = f"s3://{artifacts}/function.zip"
    cfn_template = transform(sam, {}, ManagedPolicyLoader(iam))
    drop_unsupported(cfn_template)

    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(cfn_template), Capabilities=["CAPABILITY_IAM"])
    deadline = time.time() + 120
    while True:
        st = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if st["StackStatus"].endswith("_COMPLETE") or st["StackStatus"].endswith("_FAILED"):
            break
        if time.time() > deadline:
            sys.exit(f"stack {stack} still {st['StackStatus']} after 120 s")
        time.sleep(0.2)
    if st["StackStatus"] != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if "FAILED" in e["ResourceStatus"]]
        sys.exit(f"stack {stack}: {st['StackStatus']}: {reasons}")
    # moto's event source mappings take the messages off the queues as they are sent and hand
    # them to functions it cannot run: the tests poll the queues as the mappings would, so the
    # mappings are switched off (they exist, as the template declares them).
    lam = boto3.client("lambda", **kw)
    for m in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}
    resources = [
        {"logical": r["LogicalResourceId"], "type": r["ResourceType"], "physical": r.get("PhysicalResourceId")}
        for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    ]
    json.dump({"outputs": outputs, "resources": resources}, sys.stdout)


if __name__ == "__main__":
    main()
