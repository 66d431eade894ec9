using System.Text;
using Switchboard.Protocol;

namespace Switchboard.Core.Tests;

public class CodecTests
{
    private static List<Command> Decode(string frame) => JsonCodec.DecodeFrame(Encoding.UTF8.GetBytes(frame));

    [Fact]
    public void Decodes_every_command_of_a_newline_separated_frame_in_order()
    {
        var commands = Decode("{\"id\":1,\"connect\":{\"token\":\"t\",\"name\":\"js\"}}\n{\"id\":2,\"subscribe\":{\"channel\":\"a\",\"recover\":true,\"epoch\":\"e\",\"offset\":5}}\n\n{\"id\":3,\"publish\":{\"channel\":\"a\",\"data\":{\"x\":[1,2]}}}\n");
        Assert.Equal(3, commands.Count);
        Assert.Equal("t", commands[0].Connect!.Token);
        Assert.Equal("js", commands[0].Connect!.Name);
        var sub = commands[1].Subscribe!;
        Assert.Equal(("a", true, "e", 5UL), (sub.Channel, sub.Recover, sub.Epoch, sub.Offset));
        Assert.Equal("{\"x\":[1,2]}", commands[2].Publish!.Data.ToString());
    }

    [Fact]
    public void An_empty_object_is_a_pong_with_no_method()
    {
        var command = Assert.Single(Decode("{}"));
        Assert.Equal(0u, command.Id);
        Assert.Null(command.Connect);
        Assert.Null(command.Send);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"id\":\"1\",\"connect\":{}}")]
    [InlineData("{\"id\":-1,\"connect\":{}}")]
    [InlineData("{\"id\":4294967296,\"connect\":{}}")]
    [InlineData("{\"id\":1,\"id\":2,\"connect\":{}}")]
    [InlineData("{\"id\":1,\"subscribe\":{\"channel\":5}}")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":{\"a\":1}")]
    public void Malformed_commands_are_a_bad_request(string frame)
    {
        var e = Assert.Throws<DisconnectException>(() => Decode(frame));
        Assert.Equal(DisconnectCodes.BadRequest, e.Disconnect.Code);
    }

    [Fact]
    public void Deeply_nested_data_is_a_bad_request()
    {
        var nested = new string('[', 200) + new string(']', 200);
        var e = Assert.Throws<DisconnectException>(() => Decode("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":" + nested + "}}"));
        Assert.Equal(DisconnectCodes.BadRequest, e.Disconnect.Code);
    }

    [Fact]
    public void Raw_data_is_kept_verbatim_and_written_back_unchanged()
    {
        var command = Assert.Single(Decode("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":{\"n\":1.50,\"s\":\"\\u00e9\"}}}"));
        var bytes = JsonCodec.EncodePublication("a", new Publication { Data = command.Publish!.Data, Offset = 7 });
        Assert.Equal("{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":{\"n\":1.50,\"s\":\"\\u00e9\"},\"offset\":7}}}", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Pretty_printed_data_is_minified_so_it_cannot_break_framing()
    {
        var raw = RawJson.Parse("{\n  \"a\": [1,\n 2]\n}");
        Assert.Equal("{\"a\":[1,2]}", raw.ToString());
    }

    [Fact]
    public void Zero_values_are_omitted_from_replies()
    {
        var bytes = JsonCodec.Encode(new Reply { Id = 3, Subscribe = new SubscribeResult() });
        Assert.Equal("{\"id\":3,\"subscribe\":{}}", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Errors_carry_code_message_and_temporary()
    {
        var bytes = JsonCodec.EncodeError(9, new Error { Code = 100, Message = "internal server error", Temporary = true });
        Assert.Equal("{\"id\":9,\"error\":{\"code\":100,\"message\":\"internal server error\",\"temporary\":true}}", Encoding.UTF8.GetString(bytes));
    }
}
