using System.Text.Json;

namespace Switchboard.Protocol;

/// <summary>
/// The JSON protocol codec: a frame holds one or more messages separated by newlines.
/// </summary>
internal static class JsonCodec
{
    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    /// <summary>The server ping: an empty object.</summary>
    public static ReadOnlyMemory<byte> Ping => EmptyObject;

    /// <summary>
    /// Splits a frame into its non-blank lines and decodes each into a command.
    /// A line that is not a valid command makes the whole frame a bad request.
    /// </summary>
    public static List<Command> DecodeFrame(ReadOnlySpan<byte> frame)
    {
        var commands = new List<Command>(1);
        while (!frame.IsEmpty)
        {
            var newline = frame.IndexOf((byte)'\n');
            var line = newline < 0 ? frame : frame[..newline];
            frame = newline < 0 ? [] : frame[(newline + 1)..];
            line = line.Trim(" \t\r"u8);
            if (line.IsEmpty)
            {
                continue;
            }
            commands.Add(Decode(line));
        }
        return commands;
    }

    /// <summary>Decodes one command; throws <see cref="DisconnectException"/> (3501) when it is malformed.</summary>
    public static Command Decode(ReadOnlySpan<byte> line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, ProtocolJsonContext.Default.Command)
                ?? throw new DisconnectException(Disconnect.BadRequest);
        }
        catch (JsonException)
        {
            throw new DisconnectException(Disconnect.BadRequest);
        }
        catch (InvalidOperationException)
        {
            throw new DisconnectException(Disconnect.BadRequest);
        }
    }

    public static byte[] Encode(Reply reply) => JsonSerializer.SerializeToUtf8Bytes(reply, ProtocolJsonContext.Default.Reply);

    public static byte[] EncodeError(uint id, Error error) => Encode(new Reply { Id = id, Error = error });

    public static byte[] EncodePush(Push push) => Encode(new Reply { Push = push });

    public static byte[] EncodePublication(string channel, Publication pub)
        => EncodePush(new Push { Channel = channel, Pub = pub });
}
