"""GraphQL documents shared by tests, as UPPER_SNAKE constants."""

from pathlib import Path

# The benchmark shape of every issue, shared with bench/.
HEAVY = (Path(__file__).resolve().parents[2] / "bench" / "heavy.graphql").read_text()

USERS = """
query Users($first: Int, $after: String, $last: Int, $before: String,
            $filter: UserFilter, $orderBy: UserSort) {
  users(first: $first, after: $after, last: $last, before: $before,
        filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id email name role createdAt } }
  }
}
"""

PRODUCTS = """
query Products($first: Int, $after: String, $last: Int, $before: String,
               $filter: ProductFilter, $orderBy: ProductSort) {
  products(first: $first, after: $after, last: $last, before: $before,
           filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id sku name description price stock createdAt } }
  }
}
"""

ORDERS = """
query Orders($first: Int, $after: String, $last: Int, $before: String,
             $filter: OrderFilter, $orderBy: OrderSort) {
  orders(first: $first, after: $after, last: $last, before: $before,
         filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id status total createdAt user { id } itemCount } }
  }
}
"""

USER_ORDERS = """
query UserOrders($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
                 $filter: OrderFilter, $orderBy: OrderSort) {
  user(id: $id) {
    id
    orders(first: $first, after: $after, last: $last, before: $before,
           filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id status total createdAt } }
    }
  }
}
"""
