using System.Net.WebSockets;
using System.Text;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>Two servers: one with the WebSocket fast path, one serving every upgrade through ASP.NET Core.</summary>
public sealed class BothWebSocketPaths : IAsyncLifetime
{
    public ServerFixture FastPath { get; private set; } = null!;

    public ServerFixture Fallback { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        FastPath = await ServerFixture.StartAsync();
        Fallback = await ServerFixture.StartAsync("--Switchboard:Client:WebSocketFastPath=false");
    }

    public async Task DisposeAsync()
    {
        await FastPath.DisposeAsync();
        await Fallback.DisposeAsync();
    }

    public ServerFixture For(bool fastPath) => fastPath ? FastPath : Fallback;
}

/// <summary>
/// The Protobuf protocol over WebSocket: negotiated by the <c>centrifuge-protobuf</c> subprotocol
/// on both paths, spoken in binary frames, sharing channels with JSON clients.
/// </summary>
public sealed class ProtobufWebSocketTests(BothWebSocketPaths servers) : IClassFixture<BothWebSocketPaths>
{
    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    // What the test app's echo RPC answers an anonymous client.
    private static string Echo(string data) => $"{{\"user\":\"\",\"data\":{data}}}";

    private static async Task<ProtobufClient> ConnectAsync(ServerFixture server)
    {
        var client = await ProtobufClient.OpenAsync(server.WebSocketUri);
        var reply = await client.CommandAsync((4, ProtoWire.Msg((4, "test"))));
        Assert.True(reply.Has(5), "a connect result");
        return client;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_subprotocol_is_echoed_and_the_session_speaks_protobuf_in_binary_frames(bool fastPath)
    {
        await using var client = await ProtobufClient.OpenAsync(servers.For(fastPath).WebSocketUri);
        Assert.Equal("centrifuge-protobuf", client.SubProtocol);
        var reply = await client.CommandAsync((4, ProtoWire.Msg((4, "test"), (2, Utf8("{\"hello\":1}")))));
        var connect = reply.M(5);
        Assert.False(string.IsNullOrEmpty(connect.S(1)), "a client id");
        Assert.True(connect.U(7) > 0, "the ping interval");
        var rpc = await client.CommandAsync((13, ProtoWire.Msg((2, "echo"), (1, Utf8("{\"x\":[1,2]}")))));
        Assert.Equal(Echo("{\"x\":[1,2]}"), rpc.M(13).S(1));
        Assert.All(client.Kinds, kind => Assert.Equal(WebSocketMessageType.Binary, kind));
        Assert.Contains(servers.For(fastPath).Node.ConnectionsByTransport(), m => (string?)m.Tags[0].Value == "websocket_protobuf");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_JSON_client_still_gets_JSON_in_text_frames(bool fastPath)
    {
        await using var client = await RawClient.OpenAsync(servers.For(fastPath).WebSocketUri);
        var reply = await client.CommandAsync("\"connect\":{}");
        Assert.True(reply.TryGetProperty("connect", out _));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task JSON_and_Protobuf_subscribers_of_one_channel_receive_the_same_publication(bool fastPath)
    {
        var server = servers.For(fastPath);
        var channel = "plain:mixed-" + fastPath;
        await using var json = await RawClient.OpenAsync(server.WebSocketUri);
        await json.CommandAsync("\"connect\":{}");
        await json.CommandAsync($"\"subscribe\":{{\"channel\":\"{channel}\"}}");
        await using var proto = await ConnectAsync(server);
        Assert.True((await proto.CommandAsync((5, ProtoWire.Msg((1, channel))))).Has(6));

        // Published by the Protobuf client: JSON bytes in, the same JSON text out to both.
        const string data = "{\"n\": 1, \"s\":\"é\"}";
        var published = await proto.CommandAsync((7, ProtoWire.Msg((1, channel), (2, Utf8(data)))));
        Assert.True(published.Has(8), "a publish result");
        var jsonPush = await json.NextPushAsync();
        Assert.Equal(channel, jsonPush.GetProperty("channel").GetString());
        Assert.Equal(data, jsonPush.GetProperty("pub").GetProperty("data").GetRawText());
        var protoPush = await proto.NextPushAsync();
        Assert.Equal(channel, protoPush.S(2));
        Assert.Equal(data, protoPush.M(4).S(4));

        // Published by the JSON client: the Protobuf subscriber gets the value's JSON bytes.
        await json.CommandAsync($"\"publish\":{{\"channel\":\"{channel}\",\"data\":[true,null]}}");
        Assert.Equal("[true,null]", (await json.NextPushAsync()).GetProperty("pub").GetProperty("data").GetRawText());
        Assert.Equal("[true,null]", (await proto.NextPushAsync()).M(4).S(4));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Publishing_data_that_is_not_JSON_is_answered_107_and_the_connection_stays(bool fastPath)
    {
        var server = servers.For(fastPath);
        await using var client = await ConnectAsync(server);
        await client.CommandAsync((5, ProtoWire.Msg((1, "plain:notjson"))));
        var reply = await client.CommandAsync((7, ProtoWire.Msg((1, "plain:notjson"), (2, new byte[] { 0x01, 0x02, 0xFF }))));
        Assert.Equal(107UL, reply.M(2).U(1));
        var rpc = await client.CommandAsync((13, ProtoWire.Msg((2, "echo"), (1, Utf8("1")))));
        Assert.Equal(Echo("1"), rpc.M(13).S(1));
    }

    [Theory]
    [InlineData(true, new byte[] { 0x80 })]
    [InlineData(false, new byte[] { 0x80 })]
    [InlineData(true, new byte[] { 0x05, 0x08, 0x01 })]
    [InlineData(false, new byte[] { 0x05, 0x08, 0x01 })]
    [InlineData(true, new byte[] { 0x03, 0x0A, 0x01, 0x61 })]
    public async Task A_frame_that_is_not_valid_protobuf_closes_with_3501_and_harms_no_one_else(bool fastPath, byte[] frame)
    {
        var server = servers.For(fastPath);
        await using var bystander = await ConnectAsync(server);
        await using var client = await ConnectAsync(server);
        await client.SendAsync(frame);
        Assert.Equal(3501, await client.ClosedAsync());
        var rpc = await bystander.CommandAsync((13, ProtoWire.Msg((2, "echo"), (1, Utf8("2")))));
        Assert.Equal(Echo("2"), rpc.M(13).S(1));
        Assert.Empty(server.Errors.Entries);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_text_frame_on_a_protobuf_connection_closes_with_3501(bool fastPath)
    {
        await using var client = await ConnectAsync(servers.For(fastPath));
        await client.SendAsync(Utf8("{\"id\":2,\"presence\":{}}"), WebSocketMessageType.Text);
        Assert.Equal(3501, await client.ClosedAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_binary_frame_on_a_JSON_connection_closes_with_3501(bool fastPath)
    {
        await using var client = await RawClient.OpenAsync(servers.For(fastPath).WebSocketUri);
        await client.CommandAsync("\"connect\":{}");
        await client.SendBinaryAsync(ProtoWire.Frame(ProtoWire.Msg((1, 2u), (8, ProtoWire.Msg((1, "plain:x"))))));
        Assert.Equal(3501, await client.ClosedAsync(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Several_commands_in_one_frame_are_answered_in_order(bool fastPath)
    {
        await using var client = await ConnectAsync(servers.For(fastPath));
        await client.SendAsync(ProtoWire.Frame(
            ProtoWire.Msg((1, 10u), (13, ProtoWire.Msg((2, "echo"), (1, Utf8("\"a\""))))),
            ProtoWire.Msg((1, 11u), (13, ProtoWire.Msg((2, "echo"), (1, Utf8("\"b\"")))))));
        Assert.Equal(Echo("\"a\""), (await client.ReplyAsync(10)).M(13).S(1));
        Assert.Equal(Echo("\"b\""), (await client.ReplyAsync(11)).M(13).S(1));
    }

    [Fact]
    public async Task Mutated_protobuf_frames_get_documented_answers_and_leave_a_subscriber_whole()
    {
        var server = servers.FastPath;
        var random = new Random(7_2026);
        await using var subscriber = await ConnectAsync(server);
        await subscriber.CommandAsync((5, ProtoWire.Msg((1, "plain:fuzz-steady"))));
        var commands = new[]
        {
            ProtoWire.Msg((1, 1u), (5, ProtoWire.Msg((1, "plain:fuzz"), (3, true), (6, "e"), (7, 3UL)))),
            ProtoWire.Msg((1, 2u), (7, ProtoWire.Msg((1, "plain:fuzz"), (2, Utf8("{\"a\":[1,{\"b\":null}]}"))))),
            ProtoWire.Msg((1, 3u), (13, ProtoWire.Msg((2, "echo"), (1, Utf8("[1,2,3]"))))),
            ProtoWire.Msg((1, 4u), (10, ProtoWire.Msg((1, "plain:fuzz"), (7, 5), (8, ProtoWire.Msg((1, 1UL), (2, "e")))))),
            ProtoWire.Msg((1, 5u), (6, ProtoWire.Msg((1, "plain:fuzz")))),
            ProtoWire.Msg((12, ProtoWire.Msg((1, Utf8("{}"))))),
        };
        ProtobufClient? hostile = null;
        var closes = 0;
        for (var i = 0; i < 1_500; i++)
        {
            hostile ??= await ConnectAsync(server);
            var frame = ProtoWire.Frame(commands[random.Next(commands.Length)], commands[random.Next(commands.Length)]);
            for (var n = random.Next(0, 4); n > 0; n--)
            {
                frame[random.Next(frame.Length)] = (byte)random.Next(256);
            }
            frame = frame[..random.Next(1, frame.Length + 1)];
            // A barrier after the frame: once its answer is in, every reply to the frame is too.
            var barrier = (uint)(1_000_000 + i);
            try
            {
                await hostile.SendAsync(frame);
                await hostile.SendAsync(ProtoWire.Frame(ProtoWire.Msg((1, barrier), (13, ProtoWire.Msg((2, "echo"))))));
                await hostile.ReplyAsync(barrier);
            }
            catch (Exception e) when (e is System.Threading.Channels.ChannelClosedException or WebSocketException)
            {
                // Closed by the server (a send may fail once its close has arrived).
                Assert.Contains(await hostile.ClosedAsync(), new int?[] { 3501, 3013 });
                closes++;
                await hostile.DisposeAsync();
                hostile = null;
                continue;
            }
            foreach (var reply in hostile.Unclaimed.Where(m => m.Has(2)))
            {
                Assert.Contains(reply.M(2).U(1), new ulong[] { 102, 103, 104, 107, 108, 109, 111 });
            }
        }
        if (hostile is not null)
        {
            await hostile.DisposeAsync();
        }
        Assert.InRange(closes, 1, 1_499); // both outcomes were exercised
        using var api = server.Api();
        await Api.PostAsync(api, "publish", "{\"channel\":\"plain:fuzz-steady\",\"data\":{\"ok\":true}}");
        Assert.Equal("{\"ok\":true}", (await subscriber.NextPushAsync()).M(4).S(4));
        Assert.Empty(server.Errors.Entries);
    }
}
