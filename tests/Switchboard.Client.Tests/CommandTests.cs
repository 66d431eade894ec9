using System.Text.Json;

namespace Switchboard.Client.Tests;

[Collection(ServerCollection.Name)]
public sealed class CommandTests(TestServer server)
{
    [Fact]
    public async Task Rpc_without_a_handler_fails_with_method_not_found()
    {
        await using var client = server.Client();
        await client.ConnectAsync();
        var error = await Assert.ThrowsAsync<SwitchboardException>(() => client.RpcAsync("nobody-home", Waiting.Json("{}")));
        Assert.Equal(ErrorCodes.MethodNotFound, error.Code);
        Assert.False(error.Temporary);
    }

    [Fact]
    public async Task Rpc_returns_the_handlers_result()
    {
        await using var client = server.Client(server.Token("rae"));
        await client.ConnectAsync();
        var result = await client.RpcAsync("echo", Waiting.Json("{\"q\":\"hi\"}"));
        Assert.Equal("rae", result.GetProperty("user").GetString());
        Assert.Equal("hi", result.GetProperty("data").GetProperty("q").GetString());
    }

    [Fact]
    public async Task History_pages_a_channel_both_ways()
    {
        await using var client = server.Client(server.Token("hal"));
        await client.ConnectAsync();
        var sub = client.NewSubscription("chat:history");
        await sub.SubscribeAsync();
        for (var n = 1; n <= 3; n++)
        {
            await client.PublishAsync("chat:history", Waiting.Json($"{{\"n\":{n}}}"));
        }
        var all = await client.HistoryAsync("chat:history", limit: 10);
        Assert.Equal([1, 2, 3], all.Publications.Select(p => p.N()));
        Assert.Equal(all.Publications[^1].Offset, all.Offset);
        Assert.False(string.IsNullOrEmpty(all.Epoch));
        var newest = await client.HistoryAsync("chat:history", limit: 1, reverse: true);
        Assert.Equal(3, Assert.Single(newest.Publications).N());
        var after = await client.HistoryAsync("chat:history", limit: 10, since: new StreamPosition { Epoch = all.Epoch, Offset = all.Publications[0].Offset });
        Assert.Equal([2, 3], after.Publications.Select(p => p.N()));
        var stale = await Assert.ThrowsAsync<SwitchboardException>(() => client.HistoryAsync("chat:history", 10, new StreamPosition { Epoch = "not-the-epoch", Offset = 1 }));
        Assert.Equal(ErrorCodes.UnrecoverablePosition, stale.Code);
    }

    [Fact]
    public async Task Presence_lists_the_subscribers()
    {
        await using var client = server.Client(server.Token("pat"));
        await client.ConnectAsync();
        var sub = client.NewSubscription("chat:presence");
        await sub.SubscribeAsync();
        var presence = await client.PresenceAsync("chat:presence");
        var (clientId, info) = Assert.Single(presence.Clients);
        Assert.Equal(client.ClientId, clientId);
        Assert.Equal("pat", info.User);
        var stats = await client.PresenceStatsAsync("chat:presence");
        Assert.Equal(1u, stats.NumClients);
        Assert.Equal(1u, stats.NumUsers);
    }

    [Fact]
    public async Task Send_reaches_the_server_whose_answer_arrives_as_a_message()
    {
        await using var client = server.Client();
        await client.ConnectAsync();
        var message = Waiting.Next<MessageEventArgs>(h => client.Message += h);
        await client.SendAsync(Waiting.Json("{\"ping\":1}"));
        Assert.Equal(1, (await message).Data.GetProperty("got").GetProperty("ping").GetInt32());
    }

    [Fact]
    public async Task Many_commands_issued_together_all_get_their_own_reply()
    {
        await using var client = server.Client();
        await client.ConnectAsync();
        var calls = Enumerable.Range(1, 50).Select(n => client.RpcAsync("echo", Waiting.Json(n.ToString(System.Globalization.CultureInfo.InvariantCulture)))).ToList();
        var results = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(1, 50), results.Select(r => r.GetProperty("data").GetInt32()));
    }

    [Fact]
    public async Task Commands_issued_together_while_connecting_share_frames()
    {
        await using var client = server.Client();
        var connect = client.ConnectAsync();
        // All wait for the connect reply and are released together once connected.
        var calls = Enumerable.Range(1, 50).Select(n => client.RpcAsync("echo", Waiting.Json(n.ToString(System.Globalization.CultureInfo.InvariantCulture)))).ToList();
        await connect;
        var results = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(1, 50), results.Select(r => r.GetProperty("data").GetInt32()));
        // The connect command alone, then the 50 commands in fewer frames than commands. (The writer
        // sends whatever is queued when it wakes, so how many share a frame varies: 20 commands
        // took 1 to 10 frames over 200 runs; all 50 in frames of their own would mean no batching.)
        Assert.Equal(51, client.MessagesSent);
        Assert.InRange(client.FramesSent - 1, 1, 49);
    }

    [Fact]
    public async Task Typed_overloads_serialize_with_the_given_metadata()
    {
        await using var client = server.Client(server.Token("ty"));
        await client.ConnectAsync();
        var result = await client.RpcAsync("echo", new Greeting { Text = "hello" }, TestJsonContext.Default.Greeting, TestJsonContext.Default.JsonElement);
        Assert.Equal("hello", result.GetProperty("data").GetProperty("text").GetString());
    }
}

public sealed class Greeting
{
    public string Text { get; set; } = "";
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(Greeting))]
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
internal sealed partial class TestJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
