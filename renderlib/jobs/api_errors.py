"""Errors the jobs API answers with. The class name is the GraphQL ``errorType``.

The local server puts it in each error's ``errorType`` as AppSync does; the Lambda
resolver raises these, and AppSync reports a direct Lambda resolver's error with the
exception's type name.
"""


class ApiError(Exception):
    @property
    def error_type(self) -> str:
        return type(self).__name__


class ConditionalCheckFailedException(ApiError):
    """The update's condition did not hold (as DynamoDB names it)."""


class ValidationError(ApiError):
    """An argument is invalid: unknown status, malformed AWSJSON, bad transition, ..."""


class NotFoundException(ApiError):
    """The record to update, or the job an event refers to, does not exist."""


class UnauthorizedException(ApiError):
    """The caller may not do this (as AppSync names it): no or unknown credentials, a
    farm-only operation, another org's record, a field the caller may not set."""
