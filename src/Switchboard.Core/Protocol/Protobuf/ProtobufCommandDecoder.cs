using System.Text.Json;

namespace Switchboard.Protocol.Protobuf;

/// <summary>
/// Decodes the <c>Command</c> messages of the Protobuf client protocol (field numbers of
/// <c>centrifugal.centrifuge.protocol</c>, <c>client.proto</c>) into the same DTOs the JSON codec
/// fills. Fields this server does not implement are skipped, as Protobuf allows; a known field
/// with the wrong wire type is malformed (3501). Data fields are bytes in Protobuf and must hold
/// one JSON value here (see <see cref="Data"/>). Nesting is bounded by the schema (a command, its
/// request, a map entry, a subscribe request): unknown fields are skipped by their length, never
/// parsed, so no input recurses deeper.
/// </summary>
internal static class ProtobufCommandDecoder
{
    /// <summary>Decodes every length-prefixed command of a frame, in order.</summary>
    public static List<Command> DecodeFrame(ReadOnlySpan<byte> frame)
    {
        var commands = new List<Command>(1);
        var reader = new ProtoReader(frame);
        while (!reader.End)
        {
            commands.Add(DecodeCommand(reader.ReadLengthDelimited()));
        }
        return commands;
    }

    public static Command DecodeCommand(ReadOnlySpan<byte> message)
    {
        var command = new Command();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: command.Id = reader.UInt32(wire); break;
                case 4: command.Connect = Connect(reader.Bytes(wire), command); break;
                case 5: command.Subscribe = Subscribe(reader.Bytes(wire), command); break;
                case 6: command.Unsubscribe = new UnsubscribeRequest { Channel = ChannelOnly(reader.Bytes(wire)) }; break;
                case 7: command.Publish = Publish(reader.Bytes(wire), command); break;
                case 8: command.Presence = new PresenceRequest { Channel = ChannelOnly(reader.Bytes(wire)) }; break;
                case 9: command.PresenceStats = new PresenceStatsRequest { Channel = ChannelOnly(reader.Bytes(wire)) }; break;
                case 10: command.History = History(reader.Bytes(wire)); break;
                case 12: command.Send = Send(reader.Bytes(wire), command); break;
                case 13: command.Rpc = Rpc(reader.Bytes(wire), command); break;
                case 14: command.Refresh = Refresh(reader.Bytes(wire)); break;
                case 15: command.SubRefresh = SubRefresh(reader.Bytes(wire)); break;
                default: reader.Skip(wire); break; // 11 (ping) and anything newer
            }
        }
        return command;
    }

    /// <summary>
    /// A data field: empty bytes are no value; anything else must be one JSON value (UTF-8) within
    /// the depth limit, else the command is a bad request (answered 107, see
    /// <see cref="Command.InvalidData"/>) rather than a broken frame.
    /// </summary>
    private static RawJson Data(ReadOnlySpan<byte> bytes, Command command)
    {
        if (bytes.IsEmpty)
        {
            return default;
        }
        // The JSON reader does not check the UTF-8 inside strings; JSON subscribers receive this
        // value in text frames, where invalid UTF-8 would break their connection.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            command.InvalidData = true;
            return default;
        }
        try
        {
            return RawJson.Parse(bytes);
        }
        catch (JsonException)
        {
            command.InvalidData = true;
            return default;
        }
    }

    private static ConnectRequest Connect(ReadOnlySpan<byte> message, Command command)
    {
        var request = new ConnectRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: request.Token = reader.String(wire); break;
                case 2: request.Data = Data(reader.Bytes(wire), command); break;
                case 3:
                {
                    var (key, value) = SubscribeEntry(reader.Bytes(wire), command);
                    (request.Subs ??= [])[key] = value;
                    break;
                }
                case 4: request.Name = reader.String(wire); break;
                case 5: request.Version = reader.String(wire); break;
                case 6:
                {
                    var (key, value) = StringEntry(reader.Bytes(wire));
                    (request.Headers ??= [])[key] = value;
                    break;
                }
                default: reader.Skip(wire); break;
            }
        }
        return request;
    }

    // A map<string, SubscribeRequest> entry: key = 1, value = 2 (a missing part is its default).
    private static (string Key, SubscribeRequest Value) SubscribeEntry(ReadOnlySpan<byte> message, Command command)
    {
        var key = "";
        SubscribeRequest? value = null;
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: key = reader.String(wire); break;
                case 2: value = Subscribe(reader.Bytes(wire), command); break;
                default: reader.Skip(wire); break;
            }
        }
        return (key, value ?? new SubscribeRequest());
    }

    private static (string Key, string Value) StringEntry(ReadOnlySpan<byte> message)
    {
        string key = "", value = "";
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: key = reader.String(wire); break;
                case 2: value = reader.String(wire); break;
                default: reader.Skip(wire); break;
            }
        }
        return (key, value);
    }

    private static SubscribeRequest Subscribe(ReadOnlySpan<byte> message, Command command)
    {
        var request = new SubscribeRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: request.Channel = reader.String(wire); break;
                case 2: request.Token = reader.String(wire); break;
                case 3: request.Recover = reader.Bool(wire); break;
                case 6: request.Epoch = reader.String(wire); break;
                case 7: request.Offset = reader.UInt64(wire); break;
                case 8: request.Data = Data(reader.Bytes(wire), command); break;
                case 9: request.Positioned = reader.Bool(wire); break;
                case 10: request.Recoverable = reader.Bool(wire); break;
                case 11: request.JoinLeave = reader.Bool(wire); break;
                case 12: request.Delta = reader.String(wire); break;
                default: reader.Skip(wire); break; // server-side filters, typed subscriptions: not supported
            }
        }
        return request;
    }

    // Unsubscribe, presence and presence stats requests: only a channel (field 1).
    private static string? ChannelOnly(ReadOnlySpan<byte> message)
    {
        string? channel = null;
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1)
            {
                channel = reader.String(wire);
            }
            else
            {
                reader.Skip(wire);
            }
        }
        return channel;
    }

    private static PublishRequest Publish(ReadOnlySpan<byte> message, Command command)
    {
        var request = new PublishRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: request.Channel = reader.String(wire); break;
                case 2: request.Data = Data(reader.Bytes(wire), command); break;
                default: reader.Skip(wire); break;
            }
        }
        return request;
    }

    private static HistoryRequest History(ReadOnlySpan<byte> message)
    {
        var request = new HistoryRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: request.Channel = reader.String(wire); break;
                case 7: request.Limit = reader.Int32(wire); break;
                case 8: request.Since = Position(reader.Bytes(wire)); break;
                case 9: request.Reverse = reader.Bool(wire); break;
                default: reader.Skip(wire); break;
            }
        }
        return request;
    }

    private static StreamPosition Position(ReadOnlySpan<byte> message)
    {
        ulong offset = 0;
        var epoch = "";
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: offset = reader.UInt64(wire); break;
                case 2: epoch = reader.String(wire); break;
                default: reader.Skip(wire); break;
            }
        }
        return new StreamPosition { Offset = offset, Epoch = epoch };
    }

    private static SendRequest Send(ReadOnlySpan<byte> message, Command command)
    {
        var request = new SendRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1)
            {
                request.Data = Data(reader.Bytes(wire), command);
            }
            else
            {
                reader.Skip(wire);
            }
        }
        return request;
    }

    private static RpcRequest Rpc(ReadOnlySpan<byte> message, Command command)
    {
        var request = new RpcRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: request.Data = Data(reader.Bytes(wire), command); break;
                case 2: request.Method = reader.String(wire); break;
                default: reader.Skip(wire); break;
            }
        }
        return request;
    }

    private static RefreshRequest Refresh(ReadOnlySpan<byte> message)
    {
        var request = new RefreshRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1)
            {
                request.Token = reader.String(wire);
            }
            else
            {
                reader.Skip(wire);
            }
        }
        return request;
    }

    private static SubRefreshRequest SubRefresh(ReadOnlySpan<byte> message)
    {
        var request = new SubRefreshRequest();
        var reader = new ProtoReader(message);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1: request.Channel = reader.String(wire); break;
                case 2: request.Token = reader.String(wire); break;
                default: reader.Skip(wire); break;
            }
        }
        return request;
    }
}
