using System.Text.Json;

namespace Switchboard.FunctionalTests;

[Collection(ServerCollection.Name)]
public sealed class ProtocolTests(ServerFixture server)
{
    private static uint ErrorCode(JsonElement reply)
    {
        Assert.True(reply.TryGetProperty("error", out var error), $"expected an error, got {reply}");
        return error.GetProperty("code").GetUInt32();
    }

    [Fact]
    public async Task Connect_result_announces_client_id_version_and_ping_pong()
    {
        await using var client = await RawClient.OpenAsync(server.WebSocketUri);
        var reply = await client.CommandAsync("\"connect\":{\"name\":\"raw\"}");
        var result = reply.GetProperty("connect");
        Assert.Equal(36, result.GetProperty("client").GetString()!.Length);
        Assert.Equal(25, result.GetProperty("ping").GetInt32());
        Assert.True(result.GetProperty("pong").GetBoolean());
        Assert.False(string.IsNullOrEmpty(result.GetProperty("version").GetString()));
        Assert.False(result.TryGetProperty("expires", out _));
    }

    [Fact]
    public async Task A_command_before_connect_closes_with_bad_request()
    {
        await using var client = await RawClient.OpenAsync(server.WebSocketUri);
        await client.SendRawAsync("{\"id\":1,\"subscribe\":{\"channel\":\"plain:a\"}}");
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_second_connect_closes_with_bad_request()
    {
        await using var client = await server.ConnectAsync();
        await client.SendRawAsync("{\"id\":9,\"connect\":{}}");
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_command_with_id_zero_closes_with_bad_request()
    {
        await using var client = await server.ConnectAsync();
        await client.SendRawAsync("{\"subscribe\":{\"channel\":\"plain:a\"}}");
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task Two_methods_in_one_command_close_with_bad_request()
    {
        await using var client = await server.ConnectAsync();
        await client.SendRawAsync("{\"id\":5,\"subscribe\":{\"channel\":\"plain:a\"},\"unsubscribe\":{\"channel\":\"plain:a\"}}");
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task An_unknown_method_with_an_id_answers_method_not_found()
    {
        await using var client = await server.ConnectAsync();
        var reply = await client.CommandAsync("\"teleport\":{}");
        Assert.Equal(104u, ErrorCode(reply));
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"id\":\"one\",\"connect\":{}}")]
    [InlineData("{\"id\":1,\"connect\":{\"token\":42}}")]
    public async Task Malformed_json_closes_with_bad_request(string frame)
    {
        await using var client = await RawClient.OpenAsync(server.WebSocketUri);
        await client.SendRawAsync(frame);
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_binary_frame_on_a_json_connection_closes_with_bad_request()
    {
        await using var client = await server.ConnectAsync();
        await client.SendBinaryAsync([1, 2, 3]);
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_message_past_the_size_limit_closes_with_1009()
    {
        await using var client = await server.ConnectAsync();
        await client.SendRawAsync("{\"id\":2,\"publish\":{\"channel\":\"plain:a\",\"data\":\"" + new string('x', 70_000) + "\"}}");
        Assert.Equal(1009, await client.ClosedAsync());
    }

    [Fact]
    public async Task A_bad_client_does_not_disturb_others()
    {
        await using var good = await server.ConnectAsync();
        await good.CommandAsync("\"subscribe\":{\"channel\":\"plain:calm\"}");
        await using var bad = await RawClient.OpenAsync(server.WebSocketUri);
        await bad.SendRawAsync("{{{{");
        Assert.Equal(3501, await bad.ClosedAsync());
        var reply = await good.CommandAsync("\"publish\":{\"channel\":\"plain:calm\",\"data\":{\"still\":\"here\"}}");
        Assert.True(reply.TryGetProperty("publish", out _));
        var push = await good.NextPushAsync();
        Assert.Equal("here", push.GetProperty("pub").GetProperty("data").GetProperty("still").GetString());
    }

    [Fact]
    public async Task Commands_of_one_frame_are_answered_in_order()
    {
        await using var client = await RawClient.OpenAsync(server.WebSocketUri);
        await client.SendRawAsync("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"plain:b1\"}}\n{\"id\":3,\"subscribe\":{\"channel\":\"plain:b2\"}}\n{\"id\":4,\"publish\":{\"channel\":\"plain:b1\",\"data\":1}}");
        var ids = new List<uint>();
        JsonElement? pub = null;
        for (var i = 0; i < 5; i++)
        {
            var message = await client.NextAsync();
            if (message.TryGetProperty("push", out var push))
            {
                pub = push;
                continue;
            }
            Assert.False(message.TryGetProperty("error", out _), message.ToString());
            ids.Add(message.GetProperty("id").GetUInt32());
        }
        Assert.Equal([1u, 2, 3, 4], ids);
        Assert.Equal("plain:b1", pub!.Value.GetProperty("channel").GetString());
    }

    [Fact]
    public async Task Subscribing_twice_answers_already_subscribed()
    {
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:twice\"}");
        Assert.Equal(105u, ErrorCode(await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:twice\"}")));
    }

    [Fact]
    public async Task An_undefined_namespace_answers_unknown_channel()
        => Assert.Equal(102u, ErrorCode(await (await server.ConnectAsync()).CommandAsync("\"subscribe\":{\"channel\":\"nowhere:x\"}")));

    [Fact]
    public async Task An_anonymous_client_may_not_subscribe_where_only_users_may()
    {
        await using var client = await server.ConnectAsync();
        Assert.Equal(103u, ErrorCode(await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:room\"}")));
    }

    [Fact]
    public async Task A_private_channel_needs_a_subscription_token()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("alice", server.Time.GetUtcNow()));
        Assert.Equal(103u, ErrorCode(await client.CommandAsync("\"subscribe\":{\"channel\":\"$secret:vault\"}")));
        var token = Tokens.Subscription("alice", "$secret:vault", server.Time.GetUtcNow());
        var reply = await client.CommandAsync($"\"subscribe\":{{\"channel\":\"$secret:vault\",\"token\":\"{token}\"}}");
        var result = reply.GetProperty("subscribe");
        Assert.True(result.GetProperty("recoverable").GetBoolean());
        Assert.True(result.GetProperty("expires").GetBoolean());
    }

    [Fact]
    public async Task A_subscription_token_of_another_user_closes_with_invalid_token()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("alice", server.Time.GetUtcNow()));
        var token = Tokens.Subscription("mallory", "$secret:vault", server.Time.GetUtcNow());
        await client.SendRawAsync($"{{\"id\":7,\"subscribe\":{{\"channel\":\"$secret:vault\",\"token\":\"{token}\"}}}}");
        Assert.Equal(3500, await client.ClosedAsync());
    }

    [Fact]
    public async Task Publishing_without_permission_answers_permission_denied()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("bob", server.Time.GetUtcNow()));
        Assert.Equal(103u, ErrorCode(await client.CommandAsync("\"publish\":{\"channel\":\"chat:closed\",\"data\":{}}")));
    }

    [Fact]
    public async Task Publishing_without_data_answers_bad_request()
    {
        await using var client = await server.ConnectAsync();
        Assert.Equal(107u, ErrorCode(await client.CommandAsync("\"publish\":{\"channel\":\"plain:x\"}")));
    }

    [Fact]
    public async Task Presence_and_history_where_they_are_off_answer_not_available()
    {
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:off\"}");
        Assert.Equal(108u, ErrorCode(await client.CommandAsync("\"presence\":{\"channel\":\"plain:off\"}")));
        Assert.Equal(108u, ErrorCode(await client.CommandAsync("\"presence_stats\":{\"channel\":\"plain:off\"}")));
        Assert.Equal(108u, ErrorCode(await client.CommandAsync("\"history\":{\"channel\":\"plain:off\"}")));
    }

    [Fact]
    public async Task Presence_history_and_join_work_for_a_subscriber()
    {
        var now = server.Time.GetUtcNow();
        await using var alice = await server.ConnectAsync(Tokens.Connection("alice", now));
        var sub = (await alice.CommandAsync("\"subscribe\":{\"channel\":\"chat:lobby\",\"join_leave\":true}")).GetProperty("subscribe");
        Assert.True(sub.GetProperty("recoverable").GetBoolean());
        var join = await alice.NextPushAsync();
        Assert.Equal("alice", join.GetProperty("join").GetProperty("info").GetProperty("user").GetString());

        await using var bob = await server.ConnectAsync(Tokens.Connection("bob", now));
        await bob.CommandAsync("\"subscribe\":{\"channel\":\"chat:lobby\"}");
        var bobJoin = await alice.NextPushAsync();
        Assert.Equal("bob", bobJoin.GetProperty("join").GetProperty("info").GetProperty("user").GetString());

        var stats = (await alice.CommandAsync("\"presence_stats\":{\"channel\":\"chat:lobby\"}")).GetProperty("presence_stats");
        Assert.Equal(2, stats.GetProperty("num_clients").GetInt32());
        Assert.Equal(2, stats.GetProperty("num_users").GetInt32());
        var presence = (await alice.CommandAsync("\"presence\":{\"channel\":\"chat:lobby\"}")).GetProperty("presence").GetProperty("presence");
        Assert.Equal(["alice", "bob"], presence.EnumerateObject().Select(p => p.Value.GetProperty("user").GetString()).Order());

        await bob.CommandAsync("\"publish\":{\"channel\":\"chat:lobby\",\"data\":{\"m\":1}}");
        var pub = (await alice.NextPushAsync()).GetProperty("pub");
        Assert.Equal("bob", pub.GetProperty("info").GetProperty("user").GetString());
        var history = (await alice.CommandAsync("\"history\":{\"channel\":\"chat:lobby\",\"limit\":10}")).GetProperty("history");
        Assert.Equal(pub.GetProperty("offset").GetUInt64(), history.GetProperty("offset").GetUInt64());
        Assert.Single(history.GetProperty("publications").EnumerateArray());

        await bob.CommandAsync("\"unsubscribe\":{\"channel\":\"chat:lobby\"}");
        var leave = await alice.NextPushAsync();
        Assert.Equal("bob", leave.GetProperty("leave").GetProperty("info").GetProperty("user").GetString());
    }

    [Fact]
    public async Task History_since_a_stale_epoch_answers_unrecoverable_position()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("carol", server.Time.GetUtcNow()));
        await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:epochs\"}");
        var reply = await client.CommandAsync("\"history\":{\"channel\":\"chat:epochs\",\"limit\":10,\"since\":{\"offset\":1,\"epoch\":\"stale\"}}");
        Assert.Equal(112u, ErrorCode(reply));
    }

    [Fact]
    public async Task Rpc_without_a_handler_answers_method_not_found()
        => Assert.Equal(104u, ErrorCode(await (await server.ConnectAsync()).CommandAsync("\"rpc\":{\"method\":\"sum\",\"data\":[1,2]}")));

    [Fact]
    public async Task Rpc_reaches_the_apps_handler_for_its_method()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("rita", server.Time.GetUtcNow()));
        var result = (await client.CommandAsync("\"rpc\":{\"method\":\"echo\",\"data\":[1,2]}")).GetProperty("rpc").GetProperty("data");
        Assert.Equal("rita", result.GetProperty("user").GetString());
        Assert.Equal("[1,2]", result.GetProperty("data").GetRawText());
    }

    [Fact]
    public async Task An_rpc_handler_may_refuse_with_its_own_error()
    {
        await using var client = await server.ConnectAsync();
        var reply = await client.CommandAsync("\"rpc\":{\"method\":\"refuse\"}");
        Assert.Equal(4001u, ErrorCode(reply));
        Assert.Equal("not today", reply.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Send_gets_no_reply_but_reaches_the_app_which_can_answer_with_a_message_push()
    {
        await using var client = await server.ConnectAsync();
        await client.SendRawAsync("{\"send\":{\"data\":{\"fire\":\"forget\"}}}");
        var push = await client.NextPushAsync();
        Assert.Equal("forget", push.GetProperty("message").GetProperty("data").GetProperty("got").GetProperty("fire").GetString());
        var reply = await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:after-send\"}");
        Assert.True(reply.TryGetProperty("subscribe", out _));
        Assert.False(client.HasPendingMessages);
    }

    [Fact]
    public async Task Refresh_without_a_token_answers_bad_request()
        => Assert.Equal(107u, ErrorCode(await (await server.ConnectAsync()).CommandAsync("\"refresh\":{}")));

    [Fact]
    public async Task Sub_refresh_of_a_channel_not_subscribed_answers_permission_denied()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("dan", server.Time.GetUtcNow()));
        var token = Tokens.Subscription("dan", "$secret:x", server.Time.GetUtcNow());
        Assert.Equal(103u, ErrorCode(await client.CommandAsync($"\"sub_refresh\":{{\"channel\":\"$secret:x\",\"token\":\"{token}\"}}")));
    }

    [Fact]
    public async Task An_expired_connection_token_answers_token_expired()
    {
        await using var client = await RawClient.OpenAsync(server.WebSocketUri);
        var token = Tokens.Connection("erin", server.Time.GetUtcNow(), ttlSeconds: -10);
        Assert.Equal(109u, ErrorCode(await client.CommandAsync($"\"connect\":{{\"token\":\"{token}\"}}")));
    }

    [Fact]
    public async Task A_forged_connection_token_closes_with_invalid_token()
    {
        await using var client = await RawClient.OpenAsync(server.WebSocketUri);
        var token = Tokens.Jwt("{\"sub\":\"admin\"}", secret: "not-the-server-secret-0123456789-abcdef");
        await client.SendRawAsync($"{{\"id\":1,\"connect\":{{\"token\":\"{token}\"}}}}");
        Assert.Equal(3500, await client.ClosedAsync());
    }

    [Fact]
    public async Task Recovery_after_reconnect_returns_exactly_the_missed_publications()
    {
        var now = server.Time.GetUtcNow();
        var token = Tokens.Connection("frank", now);
        using var api = server.Api();
        string epoch;
        ulong offset;
        await using (var first = await server.ConnectAsync(token))
        {
            var sub = (await first.CommandAsync("\"subscribe\":{\"channel\":\"chat:recover\"}")).GetProperty("subscribe");
            epoch = sub.GetProperty("epoch").GetString()!;
            await Api.PostAsync(api, "publish", "{\"channel\":\"chat:recover\",\"data\":{\"n\":1}}");
            offset = (await first.NextPushAsync()).GetProperty("pub").GetProperty("offset").GetUInt64();
        }
        for (var n = 2; n <= 4; n++)
        {
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"chat:recover\",\"data\":{{\"n\":{n}}}}}");
        }
        await using var second = await server.ConnectAsync(token);
        var result = (await second.CommandAsync($"\"subscribe\":{{\"channel\":\"chat:recover\",\"recover\":true,\"epoch\":\"{epoch}\",\"offset\":{offset}}}")).GetProperty("subscribe");
        Assert.True(result.GetProperty("was_recovering").GetBoolean());
        Assert.True(result.GetProperty("recovered").GetBoolean());
        Assert.Equal([2, 3, 4], result.GetProperty("publications").EnumerateArray().Select(p => p.GetProperty("data").GetProperty("n").GetInt32()));
        Assert.Equal(offset + 3, result.GetProperty("offset").GetUInt64());
    }

    [Fact]
    public async Task Recovery_from_another_epoch_is_refused_with_no_publications()
    {
        await using var client = await server.ConnectAsync(Tokens.Connection("gina", server.Time.GetUtcNow()));
        var result = (await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:lost\",\"recover\":true,\"epoch\":\"gone\",\"offset\":5}")).GetProperty("subscribe");
        Assert.True(result.GetProperty("was_recovering").GetBoolean());
        Assert.False(result.TryGetProperty("recovered", out _));
        Assert.False(result.TryGetProperty("publications", out _));
    }
}
