"""Onboarding API for operators: insurer profiles, policies with rate cards, census imports."""

from __future__ import annotations

import datetime
from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from endorsements.models import CensusImport, GroupPolicy, InsurerProfile
from endorsements.services import onboarding
from escrow_project.common.errors import NotFoundError, UnprocessableError
from escrow_project.common.idempotency import idempotent
from identity.permissions import IsOperator


class InsurerProfileSerializer(serializers.ModelSerializer[InsurerProfile]):
    insurer = serializers.UUIDField(source="insurer.public_id", read_only=True)
    # Secrets are write-only: the answer says whether one is set, never what it is.
    api_key_set = serializers.SerializerMethodField()
    sftp_private_key_set = serializers.SerializerMethodField()

    class Meta:
        model = InsurerProfile
        fields = [
            "insurer",
            *[f for f in onboarding.PROFILE_FIELDS if f not in ("api_key", "sftp_private_key")],
            "api_key_set",
            "sftp_private_key_set",
            "x12_last_control_number",
        ]

    def get_api_key_set(self, obj: InsurerProfile) -> bool:
        return bool(obj.api_key)

    def get_sftp_private_key_set(self, obj: InsurerProfile) -> bool:
        return bool(obj.sftp_private_key)


class RateSerializer(serializers.Serializer[Any]):
    plan = serializers.CharField(max_length=40)
    relationship = serializers.CharField(max_length=16)
    annual_premium = serializers.DecimalField(max_digits=20, decimal_places=4)


class RatesSerializer(serializers.Serializer[Any]):
    rates = RateSerializer(many=True, allow_empty=False)


class PolicyCreateSerializer(RatesSerializer):
    employer = serializers.UUIDField()
    insurer = serializers.UUIDField()
    policy_number = serializers.CharField(max_length=64)
    term_start = serializers.DateField()
    term_end = serializers.DateField()
    currency = serializers.CharField(min_length=3, max_length=3)


class PolicySerializer(serializers.ModelSerializer[GroupPolicy]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    employer = serializers.UUIDField(source="employer.public_id", read_only=True)
    insurer = serializers.UUIDField(source="insurer.public_id", read_only=True)
    rates = serializers.SerializerMethodField()

    class Meta:
        model = GroupPolicy
        fields = ["id", "employer", "insurer", "policy_number", "term_start", "term_end", "currency", "rates"]

    def get_rates(self, obj: GroupPolicy) -> list[dict[str, str]]:
        return [
            {"plan": r.plan, "relationship": r.relationship, "annual_premium": str(r.annual_premium)}
            for r in obj.rates.order_by("plan", "relationship")
        ]


class CensusSerializer(serializers.ModelSerializer[CensusImport]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    policy = serializers.UUIDField(source="policy.public_id", read_only=True)

    class Meta:
        model = CensusImport
        fields = [
            "id",
            "policy",
            "status",
            "file_name",
            "file_size",
            "rows_done",
            "rows_created",
            "rows_rejected",
            "row_errors",
            "error",
            "created_at",
            "finished_at",
        ]


def _policy(public_id: Any) -> GroupPolicy:
    policy = GroupPolicy.objects.filter(public_id=public_id).first()
    if policy is None:
        raise NotFoundError("No such policy.", code="policy_not_found")
    return policy


class InsurerProfileOnboardView(APIView):
    permission_classes = [IsOperator]
    serializer_class = InsurerProfileSerializer

    @extend_schema(request=dict[str, Any], responses={200: InsurerProfileSerializer})
    def put(self, request: Request, insurer_id: Any) -> Response:
        if not isinstance(request.data, dict):
            raise UnprocessableError("Send the profile as a JSON object.", code="invalid_body")
        profile = onboarding.insurer_profile_set(
            insurer_public_id=insurer_id, data=dict(request.data), actor=f"user:{request.user.pk}"
        )
        return Response(InsurerProfileSerializer(profile).data)


class PolicyOnboardView(APIView):
    permission_classes = [IsOperator]
    serializer_class = PolicySerializer

    @extend_schema(request=PolicyCreateSerializer, responses={201: PolicySerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        body = PolicyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = cast(dict[str, Any], body.validated_data)
        if cast(datetime.date, data["term_end"]) < cast(datetime.date, data["term_start"]):
            raise UnprocessableError("term_end is before term_start.", code="invalid_term")
        policy = onboarding.policy_onboard(
            employer_public_id=data["employer"],
            insurer_public_id=data["insurer"],
            policy_number=data["policy_number"],
            term_start=data["term_start"],
            term_end=data["term_end"],
            currency=data["currency"],
            rates=data["rates"],
            actor=f"user:{request.user.pk}",
        )
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class RateCardsView(APIView):
    permission_classes = [IsOperator]
    serializer_class = PolicySerializer

    @extend_schema(request=RatesSerializer, responses={201: PolicySerializer})
    def post(self, request: Request, policy_id: Any) -> Response:
        body = RatesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy = _policy(policy_id)
        onboarding.rate_cards_add(
            policy=policy,
            rows=onboarding.rates_parse(cast(dict[str, Any], body.validated_data)["rates"]),
            actor=f"user:{request.user.pk}",
        )
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class CensusUploadView(APIView):
    permission_classes = [IsOperator]
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = CensusSerializer

    @extend_schema(
        request={
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        responses={202: CensusSerializer},
    )
    @idempotent
    def post(self, request: Request, policy_id: Any) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise UnprocessableError("Attach the census as the multipart field `file`.", code="file_required")
        census = onboarding.census_create(policy=_policy(policy_id), user=request.user, upload=upload)  # type: ignore[arg-type]
        location = f"/api/v1/onboarding/census/{census.public_id}"
        return Response(CensusSerializer(census).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class CensusDetailView(APIView):
    permission_classes = [IsOperator]
    serializer_class = CensusSerializer

    def get(self, request: Request, census_id: Any) -> Response:
        census = CensusImport.objects.select_related("policy").filter(public_id=census_id).first()
        if census is None:
            raise NotFoundError("No such census import.", code="census_not_found")
        return Response(CensusSerializer(census).data)
