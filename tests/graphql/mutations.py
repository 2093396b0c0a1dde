"""Mutation documents shared by the write tests."""

CREATE_USER = """mutation($input: CreateUserInput!) { createUser(input: $input) {
  user { id email name role version } errors { field code message } } }"""
UPDATE_USER = """mutation($input: UpdateUserInput!) { updateUser(input: $input) {
  user { id email name role version } errors { field code message } } }"""
DELETE_USER = """mutation($input: DeleteUserInput!) { deleteUser(input: $input) {
  deletedId errors { field code message } } }"""
CREATE_PRODUCT = """mutation($input: CreateProductInput!) { createProduct(input: $input) {
  product { id sku name price stock version } errors { field code message } } }"""
UPDATE_PRODUCT = """mutation($input: UpdateProductInput!) { updateProduct(input: $input) {
  product { id sku name price stock version } errors { field code message } } }"""
DELETE_PRODUCT = """mutation($input: DeleteProductInput!) { deleteProduct(input: $input) {
  deletedId errors { field code message } } }"""
PLACE_ORDER = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id status total version user { id }
          items { quantity unitPrice product { id stock } } }
  errors { field code message } } }"""
UPDATE_ORDER_STATUS = """mutation($input: UpdateOrderStatusInput!) {
  updateOrderStatus(input: $input) {
    order { id status version } errors { field code message } } }"""
CANCEL_ORDER = """mutation($input: CancelOrderInput!) { cancelOrder(input: $input) {
  order { id status version } errors { field code message } } }"""
CREATE_TOKEN = """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
  token apiToken { id name expiresAt } errors { field code message } } }"""
BULK_UPDATE_PRODUCTS = """mutation($items: [BulkUpdateProductInput!]!, $policy: ErrorPolicy!) {
  bulkUpdateProducts(items: $items, errorPolicy: $policy) {
    count failedCount products { id name price stock version }
    errors { index id field code message } } }"""
BULK_DELETE_PRODUCTS = """mutation($ids: [ID!]!, $policy: ErrorPolicy!) {
  bulkDeleteProducts(ids: $ids, errorPolicy: $policy) {
    count failedCount deletedIds errors { index id field code message } } }"""
BULK_UPDATE_ORDER_STATUS = """mutation($ids: [ID!]!, $status: OrderStatus!,
                                      $policy: ErrorPolicy!) {
  bulkUpdateOrderStatus(ids: $ids, status: $status, errorPolicy: $policy) {
    count failedCount orders { id status version } errors { index id field code message } } }"""
BULK_DELETE_USERS = """mutation($ids: [ID!]!, $policy: ErrorPolicy!) {
  bulkDeleteUsers(ids: $ids, errorPolicy: $policy) {
    count failedCount deletedIds errors { index id field code message } } }"""
