"""The typed ServiceNow REST client: Table API, Service Catalog, journal, choices and batched status reads.

```python
from sim_servicenow.servicenow import Field, ServiceNowClient

with ServiceNowClient("https://dev1234.service-now.com", auth) as sn:
    for record in sn.table("sc_request").query(Field("active").eq(True), fields=["number", "request_state"]):
        print(record.get_str("number"), record.get_str("request_state"))
```
"""

from ._choices import DEFAULT_CHOICES, default_choices
from ._client import Catalog, Journal, ServiceNowClient, Table
from ._errors import CatalogVariablesError, InvalidInputError, QueryError
from ._models import (
    Cart,
    CartItem,
    CatalogItem,
    CatalogOrder,
    CatalogVariable,
    Choice,
    Incident,
    JournalEntry,
    Request,
    RequestItem,
)
from ._query import Condition, Field, Query, QueryValue, RawQuery
from ._record import Record
from ._values import DisplayValue, Reference

__all__ = [
    "DEFAULT_CHOICES",
    "Cart",
    "CartItem",
    "Catalog",
    "CatalogItem",
    "CatalogOrder",
    "CatalogVariable",
    "CatalogVariablesError",
    "Choice",
    "Condition",
    "DisplayValue",
    "Field",
    "Incident",
    "InvalidInputError",
    "Journal",
    "JournalEntry",
    "Query",
    "QueryError",
    "QueryValue",
    "RawQuery",
    "Record",
    "Reference",
    "Request",
    "RequestItem",
    "ServiceNowClient",
    "Table",
    "default_choices",
]
