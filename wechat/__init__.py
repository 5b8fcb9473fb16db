"""The WeChat Official Account (微信公众号) channel: WeChat's server protocol (signatures, AES
message crypto, safe XML parsing, replies), deduplication of WeChat's retries, the access token
and customer-service messages, and what each message type means to the bot. The HTTP endpoint
is gateway/wechat_api.py; docs/wechat.md says how a centre configures its account."""
