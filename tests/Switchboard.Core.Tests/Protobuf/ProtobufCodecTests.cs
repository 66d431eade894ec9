using Switchboard.Protocol;
using Switchboard.Testing;
using static Switchboard.Testing.ProtoWire;

namespace Switchboard.Core.Tests.Protobuf;

public class ProtobufCodecTests
{
    private static readonly ClientCodec Codec = ClientCodec.Protobuf;

    private static Command One(params (int, object)[] fields) => Assert.Single(Codec.DecodeFrame(Frame(Msg(fields))));

    private static Fields Reply(Reply reply) => Assert.Single(Unframe(Codec.Encode(reply)));

    [Fact]
    public void Is_the_binary_protocol_in_slot_1_with_an_empty_reply_as_ping()
    {
        Assert.Equal((1, "protobuf", true), (Codec.Slot, Codec.Name, Codec.IsBinary));
        Assert.True(Codec.Separator.IsEmpty);
        Assert.Equal(new byte[] { 0 }, Codec.Ping.ToArray());
        var pong = One();
        Assert.Equal(0u, pong.Id);
        Assert.Null(pong.Connect);
        Assert.Null(pong.Send);
    }

    [Fact]
    public void Decodes_a_connect_command_with_every_field()
    {
        var sub = Msg((1, "ignored"), (3, true), (6, "ep"), (7, 42UL));
        var command = One(
            (1, 7u),
            (4, Msg(
                (1, "tok"),
                (2, Json("{\"a\": [1, 2]}")),
                (3, Msg((1, "news"), (2, sub))),
                (4, "js"),
                (5, "1.0"),
                (6, Msg((1, "X-Key"), (2, "v"))),
                (7, 3L), (8, "dict"), (9, "profile"))));
        Assert.Equal(7u, command.Id);
        var connect = command.Connect!;
        Assert.Equal(("tok", "js", "1.0"), (connect.Token, connect.Name, connect.Version));
        Assert.Equal("{\"a\": [1, 2]}", connect.Data.ToString());
        var recover = connect.Subs!["news"];
        Assert.Equal((true, "ep", 42UL), (recover.Recover, recover.Epoch, recover.Offset));
        Assert.Equal("v", connect.Headers!["X-Key"]);
        Assert.False(command.InvalidData);
    }

    [Fact]
    public void Decodes_a_subscribe_command_with_every_field_and_skips_filters()
    {
        var filter = Msg((1, "eq"), (2, "k"), (6, Msg((1, "and"))));
        var command = One((1, 2u), (5, Msg(
            (1, "chat"), (2, "subtok"), (3, true), (6, "e1"), (7, ulong.MaxValue), (8, Json("\"hi\"")),
            (9, true), (10, true), (11, true), (12, "fossil"), (13, filter), (14, 1L), (18, 5))));
        var s = command.Subscribe!;
        Assert.Equal(("chat", "subtok", true, "e1", ulong.MaxValue), (s.Channel, s.Token, s.Recover, s.Epoch, s.Offset));
        Assert.Equal("\"hi\"", s.Data.ToString());
        Assert.Equal((true, true, true, "fossil"), (s.Positioned, s.Recoverable, s.JoinLeave, s.Delta));
    }

    [Fact]
    public void Decodes_every_other_command_of_one_frame_in_order()
    {
        var commands = Codec.DecodeFrame(Frame(
            Msg((1, 1u), (6, Msg((1, "a")))),
            Msg((1, 2u), (7, Msg((1, "b"), (2, Json("{\"x\":1}")), (3, 0)))),
            Msg((1, 3u), (8, Msg((1, "c")))),
            Msg((1, 4u), (9, Msg((1, "d")))),
            Msg((1, 5u), (10, Msg((1, "e"), (7, -1), (8, Msg((1, 9UL), (2, "ep"))), (9, true)))),
            Msg((12, Msg((1, Json("[true]"))))),
            Msg((1, 7u), (13, Msg((1, Json("null")), (2, "m")))),
            Msg((1, 8u), (14, Msg((1, "rt")))),
            Msg((1, 9u), (15, Msg((1, "f"), (2, "st")))),
            []));
        Assert.Equal(10, commands.Count);
        Assert.Equal("a", commands[0].Unsubscribe!.Channel);
        Assert.Equal(("b", "{\"x\":1}"), (commands[1].Publish!.Channel, commands[1].Publish!.Data.ToString()));
        Assert.Equal("c", commands[2].Presence!.Channel);
        Assert.Equal("d", commands[3].PresenceStats!.Channel);
        var history = commands[4].History!;
        Assert.Equal(("e", -1, 9UL, "ep", true), (history.Channel, history.Limit, history.Since!.Offset, history.Since.Epoch, history.Reverse));
        Assert.Equal((0u, "[true]"), (commands[5].Id, commands[5].Send!.Data.ToString()));
        Assert.Equal(("m", "null"), (commands[6].Rpc!.Method, commands[6].Rpc!.Data.ToString()));
        Assert.Equal("rt", commands[7].Refresh!.Token);
        Assert.Equal(("f", "st"), (commands[8].SubRefresh!.Channel, commands[8].SubRefresh!.Token));
        Assert.Equal(9u, commands.Select(c => c.Id).Max());
        Assert.True(commands[9] is { Id: 0, Connect: null, Publish: null }); // an empty command: a pong
    }

    [Fact]
    public void Unknown_fields_of_every_wire_type_are_skipped()
    {
        // field 20 varint, 21 fixed64, 22 length-delimited, 23 fixed32; then the id
        byte[] unknown = [0xA0, 0x01, 0x96, 0x01, 0xA9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0xB2, 0x01, 2, 0xFF, 0xFF, 0xBD, 0x01, 1, 2, 3, 4];
        var message = unknown.Concat(Msg((1, 3u), (11, Array.Empty<byte>()), (6, Msg((99, "x"), (1, "ch"))))).ToArray();
        var command = Assert.Single(Codec.DecodeFrame(Frame(message)));
        Assert.Equal((3u, "ch"), (command.Id, command.Unsubscribe!.Channel));
    }

    [Fact]
    public void A_deeply_nested_unknown_field_is_skipped_whole_without_being_parsed()
    {
        // 5,000 levels of messages inside an unknown field of a subscribe request (a tag filter
        // tree, say): skipped by its length, so nesting costs no recursion and no stack.
        var nested = ProtoWire.Msg((1, "leaf"));
        for (var i = 0; i < 5_000; i++)
        {
            nested = ProtoWire.Msg((6, nested));
        }
        var command = One((1, 1u), (5, ProtoWire.Msg((1, "ch"), (13, nested))));
        Assert.Equal("ch", command.Subscribe!.Channel);
    }

    [Theory]
    [InlineData("{\"a\":")]
    [InlineData("not json")]
    [InlineData("1 2")]
    [InlineData("\"\xff\"")]
    public void Data_that_is_not_one_JSON_value_makes_the_command_a_bad_request_not_a_broken_frame(string data)
    {
        var bytes = data.Select(c => (byte)c).ToArray();
        var command = One((1, 4u), (7, Msg((1, "ch"), (2, bytes))));
        Assert.True(command.InvalidData);
        Assert.True(command.Publish!.Data.IsEmpty);
    }

    [Fact]
    public void Data_nested_past_the_depth_limit_makes_the_command_a_bad_request()
    {
        var deep = new string('[', 100) + new string(']', 100);
        Assert.True(One((1, 4u), (13, Msg((1, Json(deep)), (2, "m")))).InvalidData);
        Assert.True(One((1, 4u), (4, Msg((3, Msg((1, "c"), (2, Msg((8, Json(deep))))))))).InvalidData);
    }

    public static TheoryData<byte[]> Malformed() => new()
    {
        { [0x80] },                                   // a frame's length varint cut short
        { [0x05, 0x08] },                             // a length past the end of the frame
        { [0x02, 0x08] },                             // a message whose varint field is cut short
        { [0x02, 0x08, 0x80] },                       // the same, its last byte still "more"
        { [0x0B, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] }, // an 11-byte varint
        { [0x0B, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02] }, // a 10th byte past 64 bits
        { [0x02, 0x00, 0x01] },                       // field number 0
        { [0x02, 0x0B, 0x0C] },                       // a group (wire type 3)
        { [0x02, 0x0E, 0x00] },                       // wire type 6
        { [0x03, 0x0A, 0x01, 0x05] },                 // id (field 1) as length-delimited
        { [0x02, 0x20, 0x01] },                       // connect (field 4) as a varint
        { [0x05, 0x22, 0x03, 0x0A, 0x05, 0x61] },     // a string inside connect runs past connect's end
        { [0x05, 0x32, 0x03, 0x0A, 0x01, 0xFF] },     // a channel that is not UTF-8
        { [0x04, 0x3A, 0x02, 0x10, 0x01] },           // publish.data (field 2) as a varint
        { [0x03, 0x29, 0x01, 0x02] },                 // a fixed64 unknown field cut short
        { [0x03, 0x2D, 0x01, 0x02] },                 // a fixed32 unknown field cut short
        { [0x0B, 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F] }, // a length of 4 GiB
        { [0x01, 0x08, 0x01] },                       // a command then a stray byte: a length past the end
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_protobuf_disconnects_with_3501(byte[] frame)
    {
        var e = Assert.Throws<DisconnectException>(() => Codec.DecodeFrame(frame));
        Assert.Equal(DisconnectCodes.BadRequest, e.Disconnect.Code);
    }

    [Fact]
    public void Random_and_mutated_bytes_only_ever_decode_or_disconnect_with_3501()
    {
        var random = new Random(20261129);
        var valid = Frame(
            Msg((1, 1u), (4, Msg((1, "tok"), (3, Msg((1, "c"), (2, Msg((3, true), (7, 5UL)))))))),
            Msg((1, 2u), (7, Msg((1, "b"), (2, Json("{\"x\":[1,2,3]}"))))),
            Msg((1, 3u), (10, Msg((1, "e"), (8, Msg((1, 9UL), (2, "ep")))))));
        for (var i = 0; i < 20_000; i++)
        {
            byte[] frame;
            if (i % 2 == 0)
            {
                frame = new byte[random.Next(0, 64)];
                random.NextBytes(frame);
            }
            else
            {
                frame = (byte[])valid.Clone();
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    frame[random.Next(frame.Length)] = (byte)random.Next(256);
                }
                frame = frame[..random.Next(frame.Length + 1)];
            }
            try
            {
                Codec.DecodeFrame(frame);
            }
            catch (DisconnectException e)
            {
                Assert.Equal(DisconnectCodes.BadRequest, e.Disconnect.Code);
            }
        }
    }

    [Fact]
    public void Encodes_a_connect_reply_with_every_field()
    {
        var pub = new Publication
        {
            Data = RawJson.Parse("{\"t\":1}"),
            Info = new ClientInfo { User = "u", Client = "c", ConnInfo = RawJson.Parse("{\"n\":1}"), ChanInfo = RawJson.Parse("[2]") },
            Offset = 3,
            Tags = new() { ["k"] = "v" },
            Time = 1_700_000_000_000,
        };
        var reply = Reply(new Reply
        {
            Id = 1,
            Connect = new ConnectResult
            {
                Client = "cid", Version = "v1", Expires = true, Ttl = 60, Data = RawJson.Parse("{\"hello\":true}"),
                Ping = 25, Pong = true, Session = "s", Node = "n", Time = 1234,
                Subs = new() { ["news"] = new SubscribeResult { Recoverable = true, Epoch = "ep", Offset = 3, Recovered = true, Positioned = true, WasRecovering = true, Publications = [pub] } },
            },
        });
        Assert.Equal([1, 5], reply.Numbers);
        Assert.Equal(1UL, reply.U(1));
        var c = reply.M(5);
        Assert.Equal(("cid", "v1", true, 60UL), (c.S(1), c.S(2), c.B(3), c.U(4)));
        Assert.Equal("{\"hello\":true}", c.S(5));
        Assert.Equal((25UL, true, "s", "n", 1234L), (c.U(7), c.B(8), c.S(9), c.S(10), c.L(11)));
        var sub = ProtoWire.Parse(c.Map(6)["news"]);
        Assert.Equal((true, "ep", true, 3UL, true, true), (sub.B(3), sub.S(6), sub.B(8), sub.U(9), sub.B(10), sub.B(12)));
        var p = Assert.Single(sub.Ms(7));
        Assert.Equal(("{\"t\":1}", 3UL, 1_700_000_000_000L), (p.S(4), p.U(6), p.L(9)));
        Assert.Equal("v", System.Text.Encoding.UTF8.GetString(p.Map(7)["k"]));
        var info = p.M(5);
        Assert.Equal(("u", "c", "{\"n\":1}", "[2]"), (info.S(1), info.S(2), info.S(3), info.S(4)));
    }

    [Fact]
    public void Encodes_errors_and_every_other_result()
    {
        var error = Reply(new Reply { Id = 9, Error = new Error { Code = 107, Message = "bad request", Temporary = true } });
        Assert.Equal((9UL, 107UL, "bad request", true), (error.U(1), error.M(2).U(1), error.M(2).S(2), error.M(2).B(3)));

        var subscribe = Reply(new Reply { Id = 2, Subscribe = new SubscribeResult { Expires = true, Ttl = 5, Data = RawJson.Parse("1"), Delta = true, Epoch = "e" } }).M(6);
        Assert.Equal((true, 5UL, "1", true, "e"), (subscribe.B(1), subscribe.U(2), subscribe.S(11), subscribe.B(13), subscribe.S(6)));

        // Empty results are still present (a zero-length message), so the client sees the answer.
        Assert.Equal([1, 7], Reply(new Reply { Id = 3, Unsubscribe = new UnsubscribeResult() }).Numbers);
        Assert.Equal([1, 8], Reply(new Reply { Id = 4, Publish = new PublishResult() }).Numbers);

        var presence = Reply(new Reply { Id = 5, Presence = new PresenceResult { Presence = new() { ["c1"] = new ClientInfo { User = "u1", Client = "c1" } } } }).M(9);
        Assert.Equal(("u1", "c1"), (ProtoWire.Parse(presence.Map(1)["c1"]).S(1), ProtoWire.Parse(presence.Map(1)["c1"]).S(2)));

        var stats = Reply(new Reply { Id = 6, PresenceStats = new PresenceStatsResult { NumClients = 3, NumUsers = 2 } }).M(10);
        Assert.Equal((3UL, 2UL), (stats.U(1), stats.U(2)));

        var history = Reply(new Reply { Id = 7, History = new HistoryResult { Epoch = "e", Offset = 8, Publications = [new Publication { Data = RawJson.Parse("1"), Offset = 7 }, new Publication { Data = RawJson.Parse("2"), Offset = 8 }] } }).M(11);
        Assert.Equal(("e", 8UL), (history.S(2), history.U(3)));
        Assert.Equal(["1", "2"], history.Ms(1).Select(p => p.S(4)));

        Assert.Equal("{\"r\":1}", Reply(new Reply { Id = 8, Rpc = new RpcResult { Data = RawJson.Parse("{\"r\":1}") } }).M(13).S(1));

        var refresh = Reply(new Reply { Id = 10, Refresh = new RefreshResult { Client = "c", Version = "v", Expires = true, Ttl = 30 } }).M(14);
        Assert.Equal(("c", "v", true, 30UL), (refresh.S(1), refresh.S(2), refresh.B(3), refresh.U(4)));

        var subRefresh = Reply(new Reply { Id = 11, SubRefresh = new SubRefreshResult { Expires = true, Ttl = 9 } }).M(15);
        Assert.Equal((true, 9UL), (subRefresh.B(1), subRefresh.U(2)));
    }

    [Fact]
    public void Encodes_every_push()
    {
        Fields Push(Push push) => Assert.Single(Unframe(Codec.EncodePush(push))).M(4);

        var pub = Push(new Push { Channel = "ch", Pub = new Publication { Data = RawJson.Parse("{\"a\":1}"), Offset = 2 } });
        Assert.Equal(("ch", "{\"a\":1}", 2UL), (pub.S(2), pub.M(4).S(4), pub.M(4).U(6)));

        Assert.Equal("u", Push(new Push { Channel = "ch", Join = new JoinPush { Info = new ClientInfo { User = "u", Client = "c" } } }).M(5).M(1).S(1));
        Assert.Equal("c", Push(new Push { Channel = "ch", Leave = new LeavePush { Info = new ClientInfo { User = "u", Client = "c" } } }).M(6).M(1).S(2));

        var unsubscribe = Push(new Push { Channel = "ch", Unsubscribe = new UnsubscribePush { Code = 2000, Reason = "server unsubscribe" } }).M(7);
        Assert.Equal((2000UL, "server unsubscribe"), (unsubscribe.U(2), unsubscribe.S(3)));

        Assert.Equal("\"m\"", Push(new Push { Message = new MessagePush { Data = RawJson.Parse("\"m\"") } }).M(8).S(1));

        var subscribe = Push(new Push { Channel = "ch", Subscribe = new SubscribePush { Recoverable = true, Epoch = "e", Offset = 4, Positioned = true, Data = RawJson.Parse("{}") } }).M(9);
        Assert.Equal((true, "e", 4UL, true, "{}"), (subscribe.B(1), subscribe.S(4), subscribe.U(5), subscribe.B(6), subscribe.S(7)));

        // The Connect push numbers data/subs/expires/ttl differently from ConnectResult.
        var connect = Push(new Push { Connect = new ConnectResult { Client = "c", Version = "v", Data = RawJson.Parse("1"), Expires = true, Ttl = 7, Ping = 25, Pong = true, Subs = new() { ["s"] = new SubscribeResult { Offset = 1 } } } }).M(10);
        Assert.Equal(("c", "v", "1", true, 7UL, 25UL, true), (connect.S(1), connect.S(2), connect.S(3), connect.B(5), connect.U(6), connect.U(7), connect.B(8)));
        Assert.Equal(1UL, ProtoWire.Parse(connect.Map(4)["s"]).U(9));

        var disconnect = Push(new Push { Disconnect = new DisconnectPush { Code = 3001, Reason = "shutdown", Reconnect = true } }).M(11);
        Assert.Equal((3001UL, "shutdown", true), (disconnect.U(1), disconnect.S(2), disconnect.B(3)));

        var refresh = Push(new Push { Refresh = new RefreshPush { Expires = true, Ttl = 3 } }).M(12);
        Assert.Equal((true, 3UL), (refresh.B(1), refresh.U(2)));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(200)]
    [InlineData(20_000)]
    [InlineData(3_000_000)]
    public void Long_messages_get_a_correct_multi_byte_length_prefix(int size)
    {
        var json = "\"" + new string('x', size) + "\"";
        var frame = Codec.EncodePush(new Push { Channel = "c", Pub = new Publication { Data = RawJson.Parse(json), Offset = 1 } });
        var pub = Assert.Single(Unframe(frame)).M(4).M(4);
        Assert.Equal((json, 1UL), (pub.S(4), pub.U(6)));
        // Encoding again on the same thread (the reused buffer) gives the same bytes.
        Assert.Equal(frame, Codec.EncodePush(new Push { Channel = "c", Pub = new Publication { Data = RawJson.Parse(json), Offset = 1 } }));
    }

    [Fact]
    public void Several_encoded_messages_joined_without_a_separator_are_one_valid_frame()
    {
        var frame = Codec.Encode(new Reply { Id = 1, Publish = new PublishResult() })
            .Concat(Codec.Ping.ToArray())
            .Concat(Codec.EncodePush(new Push { Channel = "c", Message = new MessagePush { Data = RawJson.Parse("2") } }))
            .ToArray();
        var messages = Unframe(frame);
        Assert.Equal(3, messages.Count);
        Assert.Empty(messages[1].Numbers);
        Assert.Equal("2", messages[2].M(4).M(8).S(1));
    }
}
