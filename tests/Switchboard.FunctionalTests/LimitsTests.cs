using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Switchboard.FunctionalTests;

/// <summary>Every limit, hit and answered with its documented code, on servers with tight limits.</summary>
public sealed class LimitsTests
{
    private static Task<ServerFixture> StartAsync(params string[] limits) => ServerFixture.StartAsync(limits);

    private static uint ErrorCode(System.Text.Json.JsonElement reply)
        => reply.GetProperty("error").GetProperty("code").GetUInt32();

    [Fact]
    public async Task Subscribing_past_the_channel_limit_answers_106()
    {
        await using var server = await StartAsync("--Switchboard:Client:ChannelLimit=3");
        await using var client = await server.ConnectAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await client.CommandAsync($"\"subscribe\":{{\"channel\":\"plain:c{i}\"}}")).TryGetProperty("subscribe", out _));
        }
        Assert.Equal(106u, ErrorCode(await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:c3\"}")));
        await client.CommandAsync("\"unsubscribe\":{\"channel\":\"plain:c0\"}");
        Assert.True((await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:c3\"}")).TryGetProperty("subscribe", out _));
    }

    [Fact]
    public async Task A_user_past_the_per_node_connection_limit_is_closed_with_3504()
    {
        await using var server = await StartAsync("--Switchboard:Client:UserConnectionLimit=2");
        var token = Tokens.Connection("paula", server.Time.GetUtcNow());
        await using var first = await server.ConnectAsync(token);
        await using var second = await server.ConnectAsync(token);
        await using var third = await RawClient.OpenAsync(server.WebSocketUri);
        await third.SendRawAsync($"{{\"id\":1,\"connect\":{{\"token\":\"{token}\"}}}}");
        Assert.Equal(3504, await third.ClosedAsync());
        // Another user is not affected, nor are anonymous clients.
        await using var other = await server.ConnectAsync(Tokens.Connection("quinn", server.Time.GetUtcNow()));
        await using var anonymous1 = await server.ConnectAsync();
        await using var anonymous2 = await server.ConnectAsync();
        await using var anonymous3 = await server.ConnectAsync();
    }

    [Fact]
    public async Task A_command_flood_answers_111_then_closes_with_3013()
    {
        // The server's clock is fake and does not move: the bucket never refills.
        await using var server = await StartAsync("--Switchboard:Client:CommandBurst=10", "--Switchboard:Client:FloodDisconnectAfter=5");
        await using var client = await server.ConnectAsync(); // 1 token used
        var frame = string.Join('\n', Enumerable.Range(2, 20).Select(id => $"{{\"id\":{id},\"presence_stats\":{{\"channel\":\"plain:flood\"}}}}"));
        await client.SendRawAsync(frame);
        var codes = new List<uint>();
        for (var id = 2u; id <= 14; id++)
        {
            var reply = await client.ReplyAsync(id);
            codes.Add(ErrorCode(reply));
        }
        Assert.Equal(Enumerable.Repeat(108u, 9).Concat(Enumerable.Repeat(111u, 4)), codes); // 9 tokens left: 108 (no presence here), then refused
        Assert.Equal(3013, await client.ClosedAsync()); // the fifth refusal in a row
    }

    [Fact]
    public async Task The_command_bucket_refills_with_time()
    {
        await using var server = await StartAsync("--Switchboard:Client:CommandBurst=2", "--Switchboard:Client:CommandRate=1", "--Switchboard:Client:FloodDisconnectAfter=100");
        await using var client = await server.ConnectAsync();
        Assert.Equal(108u, ErrorCode(await client.CommandAsync("\"presence\":{\"channel\":\"plain:r\"}")));
        Assert.Equal(111u, ErrorCode(await client.CommandAsync("\"presence\":{\"channel\":\"plain:r\"}")));
        server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(108u, ErrorCode(await client.CommandAsync("\"presence\":{\"channel\":\"plain:r\"}")));
    }

    [Fact]
    public async Task A_publication_past_the_size_limit_answers_106_from_clients_and_the_api()
    {
        await using var server = await StartAsync("--Switchboard:Client:MaxPublicationBytes=100");
        await using var client = await server.ConnectAsync();
        var big = "\"" + new string('x', 120) + "\"";
        Assert.Equal(106u, ErrorCode(await client.CommandAsync($"\"publish\":{{\"channel\":\"plain:big\",\"data\":{big}}}")));
        Assert.True((await client.CommandAsync("\"publish\":{\"channel\":\"plain:big\",\"data\":\"small\"}")).TryGetProperty("publish", out _));
        using var api = server.Api();
        var reply = await Api.PostAsync(api, "publish", $"{{\"channel\":\"plain:big\",\"data\":{big}}}");
        Assert.Equal(106, reply.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Publication_data_nested_past_60_levels_answers_107_and_subscribers_get_what_parses()
    {
        // Every envelope adds levels: data this deep would reach subscribers past the 64 levels
        // common JSON parsers refuse (the fuzz test found a client choking on such a push).
        await using var server = await StartAsync();
        await using var subscriber = await server.ConnectAsync();
        await subscriber.CommandAsync("\"subscribe\":{\"channel\":\"plain:deep\"}");
        static string Nested(int depth) => new string('[', depth) + new string(']', depth);
        using var api = server.Api();
        var refused = await Api.PostAsync(api, "publish", $"{{\"channel\":\"plain:deep\",\"data\":{Nested(61)}}}");
        Assert.Equal(107, refused.GetProperty("error").GetProperty("code").GetInt32());
        await using var publisher = await server.ConnectAsync();
        Assert.Equal(107u, ErrorCode(await publisher.CommandAsync($"\"publish\":{{\"channel\":\"plain:deep\",\"data\":{Nested(61)}}}")));
        var accepted = await Api.PostAsync(api, "publish", $"{{\"channel\":\"plain:deep\",\"data\":{Nested(60)}}}");
        Assert.True(accepted.TryGetProperty("result", out _), accepted.ToString());
        var push = await subscriber.NextPushAsync();
        var data = push.GetProperty("pub").GetProperty("data");
        var depth = 0;
        while (data.ValueKind == JsonValueKind.Array && data.GetArrayLength() > 0)
        {
            depth++;
            data = data[0];
        }
        Assert.Equal(59, depth); // the innermost [] is empty: 60 levels in all
    }

    [Fact]
    public async Task A_channel_name_past_the_length_limit_answers_107()
    {
        await using var server = await StartAsync("--Switchboard:Client:MaxChannelLength=20");
        await using var client = await server.ConnectAsync();
        Assert.Equal(107u, ErrorCode(await client.CommandAsync("\"subscribe\":{\"channel\":\"plain:abcdefghijklmnopqrstuvwxyz\"}")));
    }

    [Fact]
    public async Task A_message_fragmented_past_the_size_limit_closes_with_1009()
    {
        await using var server = await StartAsync("--Switchboard:Client:MaxMessageBytes=1024");
        await using var client = await server.ConnectAsync();
        var chunk = Encoding.UTF8.GetBytes(new string(' ', 300));
        for (var i = 0; i < 3; i++)
        {
            await client.SendBytesAsync(chunk, endOfMessage: false);
        }
        await client.SendBytesAsync(chunk, endOfMessage: false);
        Assert.Equal(1009, await client.ClosedAsync());
    }

    [Fact]
    public async Task Past_the_node_connection_cap_upgrades_get_503_and_readiness_fails()
    {
        await using var server = await StartAsync("--Switchboard:Client:MaxConnections=2");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/healthz/ready", UriKind.Relative))).StatusCode);
        await using var first = await server.ConnectAsync();
        await using var second = await server.ConnectAsync();
        using var third = new ClientWebSocket { Options = { CollectHttpResponseDetails = true } };
        await Assert.ThrowsAsync<WebSocketException>(() => third.ConnectAsync(server.WebSocketUri, CancellationToken.None));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, third.HttpStatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(new Uri("/healthz/ready", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/healthz/live", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task A_write_that_stalls_past_the_write_timeout_closes_with_3009()
    {
        await using var server = await StartAsync("--Switchboard:Client:WriteTimeout=00:00:05", "--Switchboard:Client:QueueMaxBytes=100000000");
        await using var stalled = await StalledClient.ConnectAsync(server, "plain:stall");
        using var api = server.Api();
        var data = "\"" + new string('y', 60_000) + "\"";
        // Publish until the server's write to the stalled client is stuck: its socket buffers are
        // full, so messages pile up in its queue behind the write in flight.
        var client = server.Node.Hub.Subscribers("plain:stall").Single().Client;
        while (client.QueuedBytes < 300_000)
        {
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"plain:stall\",\"data\":{data}}}");
        }
        Assert.True(client.IsWriteInFlight);
        server.Time.Advance(TimeSpan.FromSeconds(5));
        server.Time.Advance(TimeSpan.FromSeconds(1));
        await client.Writer.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3009, client.DisconnectCode);
    }
}
