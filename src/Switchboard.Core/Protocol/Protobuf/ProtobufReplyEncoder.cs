namespace Switchboard.Protocol.Protobuf;

/// <summary>
/// Encodes replies and pushes as length-prefixed <c>Reply</c> messages of the Protobuf client
/// protocol, with every field the JSON codec writes that the protocol has a number for. Data fields
/// (<c>data</c>, <c>conn_info</c>, <c>chan_info</c>) carry the value's JSON UTF-8 bytes.
/// </summary>
internal static class ProtobufReplyEncoder
{
    public static byte[] Encode(Reply reply)
    {
        var writer = ProtoWriter.Rent();
        try
        {
            var start = writer.BeginMessage(0);
            WriteReply(writer, reply);
            writer.EndMessage(start);
            return writer.ToArray();
        }
        finally
        {
            ProtoWriter.Release(writer);
        }
    }

    private static void WriteReply(ProtoWriter w, Reply reply)
    {
        w.UInt32(1, reply.Id);
        if (reply.Error is { } error)
        {
            var m = w.BeginMessage(2);
            w.UInt32(1, error.Code);
            w.String(2, error.Message);
            w.Bool(3, error.Temporary);
            w.EndMessage(m);
        }
        if (reply.Push is { } push)
        {
            var m = w.BeginMessage(4);
            WritePush(w, push);
            w.EndMessage(m);
        }
        if (reply.Connect is { } connect)
        {
            var m = w.BeginMessage(5);
            WriteConnect(w, connect, push: false);
            w.EndMessage(m);
        }
        if (reply.Subscribe is { } subscribe)
        {
            var m = w.BeginMessage(6);
            WriteSubscribeResult(w, subscribe);
            w.EndMessage(m);
        }
        if (reply.Unsubscribe is not null)
        {
            w.EndMessage(w.BeginMessage(7));
        }
        if (reply.Publish is not null)
        {
            w.EndMessage(w.BeginMessage(8));
        }
        if (reply.Presence is { } presence)
        {
            var m = w.BeginMessage(9);
            foreach (var (client, info) in presence.Presence)
            {
                var entry = w.BeginMessage(1);
                w.String(1, client);
                WriteClientInfo(w, 2, info);
                w.EndMessage(entry);
            }
            w.EndMessage(m);
        }
        if (reply.PresenceStats is { } stats)
        {
            var m = w.BeginMessage(10);
            w.UInt32(1, stats.NumClients);
            w.UInt32(2, stats.NumUsers);
            w.EndMessage(m);
        }
        if (reply.History is { } history)
        {
            var m = w.BeginMessage(11);
            WritePublications(w, 1, history.Publications);
            w.String(2, history.Epoch);
            w.UInt64(3, history.Offset);
            w.EndMessage(m);
        }
        if (reply.Rpc is { } rpc)
        {
            var m = w.BeginMessage(13);
            w.Bytes(1, rpc.Data.Utf8.Span);
            w.EndMessage(m);
        }
        if (reply.Refresh is { } refresh)
        {
            var m = w.BeginMessage(14);
            w.String(1, refresh.Client);
            w.String(2, refresh.Version);
            w.Bool(3, refresh.Expires);
            w.UInt32(4, refresh.Ttl);
            w.EndMessage(m);
        }
        if (reply.SubRefresh is { } subRefresh)
        {
            var m = w.BeginMessage(15);
            w.Bool(1, subRefresh.Expires);
            w.UInt32(2, subRefresh.Ttl);
            w.EndMessage(m);
        }
    }

    // Push: channel = 2, pub = 4, join = 5, leave = 6, unsubscribe = 7, message = 8,
    // subscribe = 9, connect = 10, disconnect = 11, refresh = 12.
    private static void WritePush(ProtoWriter w, Push push)
    {
        w.String(2, push.Channel);
        if (push.Pub is { } pub)
        {
            WritePublication(w, 4, pub);
        }
        if (push.Join is { } join)
        {
            var m = w.BeginMessage(5);
            WriteClientInfo(w, 1, join.Info);
            w.EndMessage(m);
        }
        if (push.Leave is { } leave)
        {
            var m = w.BeginMessage(6);
            WriteClientInfo(w, 1, leave.Info);
            w.EndMessage(m);
        }
        if (push.Unsubscribe is { } unsubscribe)
        {
            var m = w.BeginMessage(7);
            w.UInt32(2, unsubscribe.Code);
            w.String(3, unsubscribe.Reason);
            w.EndMessage(m);
        }
        if (push.Message is { } message)
        {
            var m = w.BeginMessage(8);
            w.Bytes(1, message.Data.Utf8.Span);
            w.EndMessage(m);
        }
        if (push.Subscribe is { } subscribe)
        {
            // The protocol's Subscribe push has no expires/ttl: a server-side subscription's
            // token expiry is not sent over Protobuf.
            var m = w.BeginMessage(9);
            w.Bool(1, subscribe.Recoverable);
            w.String(4, subscribe.Epoch);
            w.UInt64(5, subscribe.Offset);
            w.Bool(6, subscribe.Positioned);
            w.Bytes(7, subscribe.Data.Utf8.Span);
            w.EndMessage(m);
        }
        if (push.Connect is { } connect)
        {
            var m = w.BeginMessage(10);
            WriteConnect(w, connect, push: true);
            w.EndMessage(m);
        }
        if (push.Disconnect is { } disconnect)
        {
            var m = w.BeginMessage(11);
            w.UInt32(1, disconnect.Code);
            w.String(2, disconnect.Reason);
            w.Bool(3, disconnect.Reconnect);
            w.EndMessage(m);
        }
        if (push.Refresh is { } refresh)
        {
            var m = w.BeginMessage(12);
            w.Bool(1, refresh.Expires);
            w.UInt32(2, refresh.Ttl);
            w.EndMessage(m);
        }
    }

    // ConnectResult (a reply) and Connect (a push) differ only in fields 3–6: the result has
    // expires = 3, ttl = 4, data = 5, subs = 6; the push data = 3, subs = 4, expires = 5, ttl = 6.
    private static void WriteConnect(ProtoWriter w, ConnectResult connect, bool push)
    {
        w.String(1, connect.Client);
        w.String(2, connect.Version);
        if (push)
        {
            w.Bytes(3, connect.Data.Utf8.Span);
            WriteSubscribeResults(w, 4, connect.Subs);
            w.Bool(5, connect.Expires);
            w.UInt32(6, connect.Ttl);
        }
        else
        {
            w.Bool(3, connect.Expires);
            w.UInt32(4, connect.Ttl);
            w.Bytes(5, connect.Data.Utf8.Span);
            WriteSubscribeResults(w, 6, connect.Subs);
        }
        w.UInt32(7, connect.Ping);
        w.Bool(8, connect.Pong);
        w.String(9, connect.Session);
        w.String(10, connect.Node);
        w.Int64(11, connect.Time);
    }

    private static void WriteSubscribeResults(ProtoWriter w, int field, Dictionary<string, SubscribeResult>? subs)
    {
        if (subs is null)
        {
            return;
        }
        foreach (var (channel, result) in subs)
        {
            var entry = w.BeginMessage(field);
            w.String(1, channel);
            var m = w.BeginMessage(2);
            WriteSubscribeResult(w, result);
            w.EndMessage(m);
            w.EndMessage(entry);
        }
    }

    private static void WriteSubscribeResult(ProtoWriter w, SubscribeResult result)
    {
        w.Bool(1, result.Expires);
        w.UInt32(2, result.Ttl);
        w.Bool(3, result.Recoverable);
        w.String(6, result.Epoch);
        WritePublications(w, 7, result.Publications);
        w.Bool(8, result.Recovered);
        w.UInt64(9, result.Offset);
        w.Bool(10, result.Positioned);
        w.Bytes(11, result.Data.Utf8.Span);
        w.Bool(12, result.WasRecovering);
        w.Bool(13, result.Delta);
    }

    private static void WritePublications(ProtoWriter w, int field, List<Publication>? publications)
    {
        if (publications is null)
        {
            return;
        }
        foreach (var pub in publications)
        {
            WritePublication(w, field, pub);
        }
    }

    // Publication: data = 4, info = 5, offset = 6, tags = 7, time = 9.
    private static void WritePublication(ProtoWriter w, int field, Publication pub)
    {
        var m = w.BeginMessage(field);
        w.Bytes(4, pub.Data.Utf8.Span);
        WriteClientInfo(w, 5, pub.Info);
        w.UInt64(6, pub.Offset);
        if (pub.Tags is { } tags)
        {
            foreach (var (key, value) in tags)
            {
                var entry = w.BeginMessage(7);
                w.String(1, key);
                w.String(2, value);
                w.EndMessage(entry);
            }
        }
        w.Int64(9, pub.Time);
        w.EndMessage(m);
    }

    private static void WriteClientInfo(ProtoWriter w, int field, ClientInfo? info)
    {
        if (info is null)
        {
            return;
        }
        var m = w.BeginMessage(field);
        w.String(1, info.User);
        w.String(2, info.Client);
        w.Bytes(3, info.ConnInfo.Utf8.Span);
        w.Bytes(4, info.ChanInfo.Utf8.Span);
        w.EndMessage(m);
    }
}
