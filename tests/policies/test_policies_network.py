"""Network rules: flow logs per VPC (awsx component offline, aws children in a real
preview), no ingress on security groups, NAT gateway count."""

from policy_testkit import check_resource, check_stack, resource

from policies.network import nat_gateway_count, security_group_no_ingress, vpc_flow_logs

AWSX_VPC = "awsx:ec2:Vpc"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
NAT = "aws:ec2/natGateway:NatGateway"
SG = "aws:ec2/securityGroup:SecurityGroup"

VPC_INPUTS = {
    "natGateways": {"strategy": "Single"},
    "numberOfAvailabilityZones": 2.0,
    "cidrBlock": "10.0.0.0/16",
}


def awsx_vpc(**inputs):
    # Offline, the component shows its inputs plus the outputs the mocks return.
    props = {**VPC_INPUTS, **inputs}
    return resource(AWSX_VPC, "vpc", props, outputs={**props, "vpcId": "vpc-0mock"})


def flow_log(vpc_id="vpc-0mock", **kwargs):
    return resource(FLOW_LOG, "flow-log", {"vpcId": vpc_id, "trafficType": "ALL"}, **kwargs)


NO_FLOW_LOG = (
    "VPC '{}' has no flow log. Add aws.ec2.FlowLog(vpc_id=<vpc>.vpc_id, traffic_type='ALL', "
    "log_destination=<log group arn>, iam_role_arn=<role arn>) so rejected and accepted "
    "traffic is recorded."
)


def test_offline_awsx_vpc_with_a_flow_log_passes():
    assert check_stack(vpc_flow_logs, [awsx_vpc(), flow_log()]) == []


def test_offline_awsx_vpc_without_a_flow_log_is_reported():
    assert check_stack(vpc_flow_logs, [awsx_vpc(), flow_log("vpc-other")]) == [
        ("vpc", NO_FLOW_LOG.format("vpc"))
    ]


def test_real_preview_judges_the_aws_child_once():
    # A real preview: the component, its aws:ec2 Vpc child, and a flow log whose vpcId
    # (unknown yet) the engine says came from the component's vpcId output.
    component = resource(AWSX_VPC, "vpc", {})
    child = resource(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"}, parent=component)
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    covered = flow_log(unknown, deps={"vpcId": [component]})
    assert check_stack(vpc_flow_logs, [component, child, covered]) == []
    assert check_stack(vpc_flow_logs, [component, child]) == [("vpc", NO_FLOW_LOG.format("vpc"))]


def test_plain_vpc_matches_its_flow_log_by_id():
    vpc = resource(
        VPC,
        "plain",
        {"cidrBlock": "10.1.0.0/16"},
        outputs={"cidrBlock": "10.1.0.0/16", "id": "vpc-123"},
    )
    assert check_stack(vpc_flow_logs, [vpc, flow_log("vpc-123")]) == []
    assert check_stack(vpc_flow_logs, [vpc]) == [("plain", NO_FLOW_LOG.format("plain"))]


def test_security_group_with_egress_only_passes():
    props = {
        "egress": [
            {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": ["0.0.0.0/0"]}
        ]
    }
    assert check_resource(security_group_no_ingress, SG, props, name="tasks") == []


HINT = (
    "Render tasks only call out; remove the ingress rule (egress through the NAT gateway "
    "and the S3 endpoint is all they need)."
)


def test_security_group_ingress_is_reported():
    props = {
        "ingress": [
            {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/0"]}
        ]
    }
    assert check_resource(security_group_no_ingress, SG, props, name="tasks") == [
        f"Security group 'tasks' allows ingress (tcp 22-22). {HINT}"
    ]


def test_separate_ingress_rules_are_reported():
    rule = {
        "securityGroupId": "sg-1",
        "ipProtocol": "tcp",
        "fromPort": 80.0,
        "toPort": 80.0,
        "cidrIpv4": "0.0.0.0/0",
    }
    assert check_resource(
        security_group_no_ingress,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        rule,
        name="http",
    ) == [f"Security group ingress rule 'http' opens a security group. {HINT}"]
    legacy = {"type": "ingress", "securityGroupId": "sg-1", "protocol": "tcp"}
    assert check_resource(
        security_group_no_ingress, "aws:ec2/securityGroupRule:SecurityGroupRule", legacy, name="old"
    ) == [f"Security group rule 'old' is an ingress rule. {HINT}"]
    egress = {**legacy, "type": "egress"}
    assert (
        check_resource(
            security_group_no_ingress, "aws:ec2/securityGroupRule:SecurityGroupRule", egress
        )
        == []
    )


def test_single_nat_gateway_matches_the_default_count():
    assert check_stack(nat_gateway_count, [awsx_vpc()]) == []


def test_one_per_az_is_reported_against_the_expected_count():
    found = check_stack(nat_gateway_count, [awsx_vpc(natGateways={"strategy": "OnePerAz"})])
    assert found == [
        (
            "",
            "The stack creates 2 NAT gateway(s) (VPC vpc: 2); the policy expects 1. Set the awsx "
            "Vpc's nat_gateways strategy ('Single' for one) or change this policy's expectedCount.",
        )
    ]
    assert (
        check_stack(
            nat_gateway_count,
            [awsx_vpc(natGateways={"strategy": "OnePerAz"})],
            config={"expectedCount": 2},
        )
        == []
    )


def test_awsx_defaults_are_one_gateway_per_az_over_three_azs():
    vpc = resource(AWSX_VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
    [(_, message)] = check_stack(nat_gateway_count, [vpc])
    assert message.startswith("The stack creates 3 NAT gateway(s) (VPC vpc: 3)")


def test_real_preview_counts_the_nat_gateway_children():
    component = resource(AWSX_VPC, "vpc", {"natGateways": [{"id": "x"}, {"id": "y"}]})
    gateways = [resource(NAT, f"vpc-{i}", {"subnetId": "s"}, parent=component) for i in (1, 2)]
    [(_, message)] = check_stack(nat_gateway_count, [component, *gateways])
    assert message.startswith("The stack creates 2 NAT gateway(s) (VPC vpc: 2)")
    standalone = resource(NAT, "nat", {"subnetId": "s"})
    assert check_stack(nat_gateway_count, [standalone]) == []
