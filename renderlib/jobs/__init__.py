"""The jobs API: one GraphQL contract (schema.graphql), served by AppSync in the cloud
and by a local server over SQLite, and the ``JobsClient`` the farm uses against either.

Modules: ``status`` (statuses and transitions), ``models`` (tables, fields, indexes),
``conditions`` (Amplify condition inputs), ``store``/``sqlite_store``/``dynamo_store``
(storage), ``service`` (the API's logic, shared by ``server`` and the Lambda resolver),
``auth`` and ``client`` (the gql client), ``submit`` (registering runs and jobs).
"""
