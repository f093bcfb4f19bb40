# The AWS Load Balancer Controller (installed with its Helm chart in kube-system, ServiceAccount
# aws-load-balancer-controller annotated with this role) makes the NLBs of the Services frontend (internet-facing)
# and product-internal (internal, the Lambda's way to product). The policy follows the controller's published one,
# narrowed: no WAF, Shield or Cognito (no ALB Ingress here), and every write on a load balancer, target group or
# security group only on those tagged elbv2.k8s.aws/cluster = this cluster.

locals {
  lb_cluster_tag = "elbv2.k8s.aws/cluster"
  elb_arn        = "arn:${local.partition}:elasticloadbalancing:${var.aws_region}:${local.account_id}"
  sg_arn         = "arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}:security-group/*"
}

data "aws_iam_policy_document" "lb_controller_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:kube-system:aws-load-balancer-controller"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lb_controller" {
  name               = "${var.name}-aws-load-balancer-controller"
  description        = "IRSA role of the AWS Load Balancer Controller (kube-system/aws-load-balancer-controller)"
  assume_role_policy = data.aws_iam_policy_document.lb_controller_assume.json
}

data "aws_iam_policy_document" "lb_controller" {
  # checkov:skip=CKV_AWS_111: the writes without a resource ARN are creations (a new load balancer, target group, security group or listener has no ARN yet) and each is conditioned on the cluster tag where AWS supports it
  # checkov:skip=CKV_AWS_356: as above: Describe* calls and creations cannot name a resource; everything else is bound to this cluster's tag or ARN patterns
  statement {
    sid       = "ElbServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid = "Describe"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcPeeringConnections",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeTags",
      "ec2:DescribeRouteTables",
      "ec2:GetSecurityGroupsForVpc",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeSSLPolicies",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTrustStores",
      "elasticloadbalancing:DescribeCapacityReservation",
      "acm:ListCertificates",
      "acm:DescribeCertificate",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "CreateTaggedSecurityGroups"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = ["*"]
  }

  statement {
    sid       = "TagNewSecurityGroups"
    actions   = ["ec2:CreateTags"]
    resources = [local.sg_arn]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.lb_cluster_tag}"
      values   = [var.name]
    }
  }

  statement {
    sid       = "ManageOwnSecurityGroups"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"]
    resources = [local.sg_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.lb_cluster_tag}"
      values   = [var.name]
    }
  }

  # The controller also opens the nodes' (cluster) security group to its load balancers' security groups.
  statement {
    sid       = "OpenClusterSecurityGroup"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
    resources = ["arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}:security-group/${aws_eks_cluster.main.vpc_config[0].cluster_security_group_id}"]
  }

  statement {
    sid       = "CreateTaggedLoadBalancers"
    actions   = ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.lb_cluster_tag}"
      values   = [var.name]
    }
  }

  statement {
    sid     = "TagOnCreate"
    actions = ["elasticloadbalancing:AddTags"]
    resources = [
      "${local.elb_arn}:targetgroup/*/*",
      "${local.elb_arn}:loadbalancer/net/*/*",
      "${local.elb_arn}:loadbalancer/app/*/*",
    ]

    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateTargetGroup", "CreateLoadBalancer"]
    }
  }

  statement {
    sid = "ManageOwnLoadBalancers"
    actions = [
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:DeleteLoadBalancer",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:ModifyCapacityReservation",
    ]
    resources = [
      "${local.elb_arn}:targetgroup/*/*",
      "${local.elb_arn}:loadbalancer/net/*/*",
      "${local.elb_arn}:loadbalancer/app/*/*",
    ]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.lb_cluster_tag}"
      values   = [var.name]
    }
  }

  statement {
    sid = "Listeners"
    actions = [
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = [
      "${local.elb_arn}:loadbalancer/net/*/*",
      "${local.elb_arn}:listener/net/*/*/*",
    ]
  }

  statement {
    sid       = "Targets"
    actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    resources = ["${local.elb_arn}:targetgroup/*/*"]
  }
}

resource "aws_iam_role_policy" "lb_controller" {
  name   = "aws-load-balancer-controller"
  role   = aws_iam_role.lb_controller.id
  policy = data.aws_iam_policy_document.lb_controller.json
}
