using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Switchboard.FunctionalTests;

[Collection(ServerCollection.Name)]
public sealed class ServerApiTests(ServerFixture server)
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_call_without_the_api_key_is_unauthorized()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var response = await http.PostAsync(new Uri("/api/info", UriKind.Relative), Json("{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_call_with_a_wrong_api_key_is_unauthorized()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        http.DefaultRequestHeaders.Add("X-API-Key", "wrong-key-wrong-key-wrong");
        using var response = await http.PostAsync(new Uri("/api/info", UriKind.Relative), Json("{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task The_authorization_apikey_scheme_is_accepted()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("apikey", ServerFixture.ApiKey);
        var body = await Api.PostAsync(http, "info", "{}");
        Assert.Equal(1, body.GetProperty("result").GetProperty("nodes").GetArrayLength());
    }

    [Theory]
    [InlineData("{\"channel\":")]
    [InlineData("{\"channel\":[1]}")]
    [InlineData("[]")]
    public async Task A_malformed_body_answers_bad_request_in_the_envelope(string body)
    {
        using var api = server.Api();
        var reply = await Api.PostAsync(api, "publish", body);
        Assert.Equal(107, reply.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Publish_returns_the_stream_position_and_history_reads_it_back()
    {
        using var api = server.Api();
        var first = (await Api.PostAsync(api, "publish", "{\"channel\":\"chat:api-history\",\"data\":{\"n\":1}}")).GetProperty("result");
        var second = (await Api.PostAsync(api, "publish", "{\"channel\":\"chat:api-history\",\"data\":{\"n\":2}}")).GetProperty("result");
        Assert.Equal(first.GetProperty("offset").GetUInt64() + 1, second.GetProperty("offset").GetUInt64());
        var history = (await Api.PostAsync(api, "history", "{\"channel\":\"chat:api-history\",\"limit\":1,\"reverse\":true}")).GetProperty("result");
        var newest = Assert.Single(history.GetProperty("publications").EnumerateArray());
        Assert.Equal(2, newest.GetProperty("data").GetProperty("n").GetInt32());
        await Api.PostAsync(api, "history_remove", "{\"channel\":\"chat:api-history\"}");
        var removed = (await Api.PostAsync(api, "history", "{\"channel\":\"chat:api-history\",\"limit\":10}")).GetProperty("result");
        Assert.False(removed.TryGetProperty("publications", out var pubs) && pubs.GetArrayLength() > 0);
        Assert.Equal(second.GetProperty("offset").GetUInt64(), removed.GetProperty("offset").GetUInt64());
    }

    [Fact]
    public async Task Broadcast_answers_per_channel_including_errors()
    {
        using var api = server.Api();
        var result = (await Api.PostAsync(api, "broadcast", "{\"channels\":[\"chat:b1\",\"nowhere:b2\"],\"data\":{\"x\":1}}")).GetProperty("result");
        var responses = result.GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal(2, responses.Count);
        Assert.True(responses[0].GetProperty("result").GetProperty("offset").GetUInt64() > 0);
        Assert.Equal(102, responses[1].GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Channels_lists_active_channels_matching_a_pattern()
    {
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:listed-1\"}");
        using var api = server.Api();
        var channels = (await Api.PostAsync(api, "channels", "{\"pattern\":\"plain:listed-*\"}")).GetProperty("result").GetProperty("channels");
        Assert.Equal(1, channels.GetProperty("plain:listed-1").GetProperty("num_clients").GetInt32());
        Assert.All(channels.EnumerateObject(), c => Assert.StartsWith("plain:listed-", c.Name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Disconnect_closes_the_users_connections_with_the_given_code()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("leo", server.Time.GetUtcNow()));
        using var api = server.Api();
        await Api.PostAsync(api, "disconnect", "{\"user\":\"leo\",\"disconnect\":{\"code\":4501,\"reason\":\"bye\"}}");
        Assert.Equal(4501, await client.ClosedAsync());
    }

    [Fact]
    public async Task Disconnect_with_a_code_outside_the_range_is_a_bad_request()
    {
        using var api = server.Api();
        var reply = await Api.PostAsync(api, "disconnect", "{\"user\":\"leo\",\"disconnect\":{\"code\":1000}}");
        Assert.Equal(107, reply.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Server_side_subscribe_and_unsubscribe_reach_the_client()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("mia", server.Time.GetUtcNow()));
        using var api = server.Api();
        await Api.PostAsync(api, "subscribe", "{\"user\":\"mia\",\"channel\":\"chat:pushed\"}");
        var subscribe = await client.NextPushAsync();
        Assert.Equal("chat:pushed", subscribe.GetProperty("channel").GetString());
        Assert.True(subscribe.GetProperty("subscribe").GetProperty("recoverable").GetBoolean());
        await Api.PostAsync(api, "publish", "{\"channel\":\"chat:pushed\",\"data\":\"hello\"}");
        Assert.Equal("hello", (await client.NextPushAsync()).GetProperty("pub").GetProperty("data").GetString());
        await Api.PostAsync(api, "unsubscribe", "{\"user\":\"mia\",\"channel\":\"chat:pushed\"}");
        var unsubscribe = await client.NextPushAsync();
        Assert.Equal(2000, unsubscribe.GetProperty("unsubscribe").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Presence_through_the_api_lists_subscribers()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("ned", server.Time.GetUtcNow(), extra: ",\"info\":{\"name\":\"Ned\"}"));
        await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:api-presence\"}");
        using var api = server.Api();
        var presence = (await Api.PostAsync(api, "presence", "{\"channel\":\"chat:api-presence\"}")).GetProperty("result").GetProperty("presence");
        var entry = Assert.Single(presence.EnumerateObject()).Value;
        Assert.Equal("ned", entry.GetProperty("user").GetString());
        Assert.Equal("Ned", entry.GetProperty("conn_info").GetProperty("name").GetString());
        var stats = (await Api.PostAsync(api, "presence_stats", "{\"channel\":\"chat:api-presence\"}")).GetProperty("result");
        Assert.Equal(1, stats.GetProperty("num_clients").GetInt32());
    }

    [Fact]
    public async Task Refresh_with_expired_closes_the_connection_with_3005()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("olga", server.Time.GetUtcNow()));
        using var api = server.Api();
        await Api.PostAsync(api, "refresh", "{\"user\":\"olga\",\"expired\":true}");
        Assert.Equal(3005, await client.ClosedAsync());
    }

    [Fact]
    public async Task Batch_runs_commands_in_order_and_answers_each()
    {
        using var api = server.Api();
        var replies = (await Api.PostAsync(api, "batch",
            "{\"commands\":[{\"publish\":{\"channel\":\"chat:batch\",\"data\":1}},{\"publish\":{\"channel\":\"nowhere:x\",\"data\":1}},{\"history\":{\"channel\":\"chat:batch\",\"limit\":5}},{\"info\":{}}]}"))
            .GetProperty("result").GetProperty("replies").EnumerateArray().ToList();
        Assert.Equal(4, replies.Count);
        var offset = replies[0].GetProperty("publish").GetProperty("offset").GetUInt64();
        Assert.Equal(102, replies[1].GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(offset, replies[2].GetProperty("history").GetProperty("offset").GetUInt64());
        Assert.True(replies[3].TryGetProperty("info", out _));
    }

    [Fact]
    public async Task An_idempotency_key_publishes_once()
    {
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:idem\"}");
        using var api = server.Api();
        var body = "{\"channel\":\"chat:idem\",\"data\":{\"once\":true},\"idempotency_key\":\"order-42\"}";
        var first = (await Api.PostAsync(api, "publish", body)).GetProperty("result");
        var second = (await Api.PostAsync(api, "publish", body)).GetProperty("result");
        Assert.Equal(first.GetProperty("offset").GetUInt64(), second.GetProperty("offset").GetUInt64());
        var history = (await Api.PostAsync(api, "history", "{\"channel\":\"chat:idem\",\"limit\":10}")).GetProperty("result");
        Assert.Single(history.GetProperty("publications").EnumerateArray());
    }

    [Fact]
    public async Task The_openapi_document_describes_every_api_method()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var paths = doc.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var method in new[] { "publish", "broadcast", "subscribe", "unsubscribe", "disconnect", "refresh", "presence", "presence_stats", "history", "history_remove", "channels", "info", "batch" })
        {
            Assert.Contains("/api/" + method, paths);
        }
        var publish = doc.RootElement.GetProperty("paths").GetProperty("/api/publish").GetProperty("post");
        var schema = publish.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.True(schema.TryGetProperty("$ref", out _) || schema.GetProperty("properties").TryGetProperty("idempotency_key", out _), schema.ToString());
    }

    [Fact]
    public async Task The_api_reference_page_is_served()
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var html = await http.GetStringAsync(new Uri("/docs", UriKind.Relative));
        Assert.Contains("Switchboard API", html, StringComparison.Ordinal);
    }
}
