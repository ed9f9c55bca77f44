"""Network: a 2-AZ VPC with one NAT gateway, private task subnets, an
outbound-only security group, flow logs and an S3 gateway endpoint."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.policy_docs import allow, document, service_trust


@dataclass
class NetworkArgs:
    name_prefix: str
    region: str
    account_id: pulumi.Input[str]
    log_retention_days: int
    cidr_block: str = "10.0.0.0/16"


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("babulus:render:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            number_of_availability_zones=2,
            enable_dns_hostnames=True,
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                strategy=awsx.ec2.NatGatewayStrategy.SINGLE
            ),
            subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
            subnet_specs=[
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=24),
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, cidr_mask=20),
            ],
            tags={"Name": f"{args.name_prefix}-vpc"},
            opts=child,
        )

        # Outbound-only: tasks call AWS APIs, ECR and the jobs API over HTTPS; nothing calls in.
        security_group = aws.ec2.SecurityGroup(
            f"{name}-tasks",
            name=f"{args.name_prefix}-tasks",
            description="Render worker tasks: outbound HTTPS only, no ingress",
            vpc_id=vpc.vpc_id,
            egress=[aws.ec2.SecurityGroupEgressArgs(
                description="HTTPS to AWS APIs, ECR, S3 and the jobs API",
                protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"],
            )],
            opts=child,
        )

        flow_log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/vpc/{args.name_prefix}/flow-logs",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        flow_log_role = aws.iam.Role(
            f"{name}-flow-logs",
            name=f"{args.name_prefix}-flow-logs",
            assume_role_policy=service_trust("vpc-flow-logs.amazonaws.com", args.account_id),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=flow_log_role.id,
            policy=document([allow(
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups",
                 "logs:DescribeLogStreams"],
                [flow_log_group.arn, pulumi.Output.concat(flow_log_group.arn, ":*")],
            )]),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=flow_log_group.arn,
            iam_role_arn=flow_log_role.arn,
            opts=child,
        )

        # S3 traffic from the private subnets skips the NAT gateway (cost and throughput).
        private_route_tables = aws.ec2.get_route_tables_output(
            vpc_id=vpc.vpc_id,
            filters=[aws.ec2.GetRouteTablesFilterArgs(
                name="association.subnet-id", values=vpc.private_subnet_ids,
            )],
        )
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.vpc_id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=private_route_tables.ids,
            tags={"Name": f"{args.name_prefix}-s3"},
            opts=child,
        )

        self.vpc_id = vpc.vpc_id
        self.private_subnet_ids = vpc.private_subnet_ids
        self.security_group_id = security_group.id
        self.register_outputs({
            "vpcId": self.vpc_id,
            "privateSubnetIds": self.private_subnet_ids,
            "securityGroupId": self.security_group_id,
        })
