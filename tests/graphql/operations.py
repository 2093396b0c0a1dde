"""GraphQL documents shared by tests, as UPPER_SNAKE constants."""

HEAVY = """
query Heavy($first: Int!, $orders: Int!) {
  users(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id email name
      orders(first: $orders) {
        edges { node {
          id status total createdAt
          items { quantity unitPrice product { id sku name price } }
        } }
      }
    } }
  }
}
"""

USERS = """
query Users($first: Int, $after: String, $last: Int, $before: String,
            $filter: UserFilter, $orderBy: UserOrder) {
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
               $filter: ProductFilter, $orderBy: ProductOrder) {
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
             $filter: OrderFilter, $orderBy: OrderOrder) {
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
                 $filter: OrderFilter, $orderBy: OrderOrder) {
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
