namespace Switchboard.Client;

/// <summary>
/// A protocol error: the server refused a command (codes 100–1999, see <see cref="ErrorCodes"/>),
/// or the client could not carry it out (codes below 100: timeout, not connected, unsubscribed).
/// </summary>
public sealed class SwitchboardException : Exception
{
    /// <summary>Creates an exception with a protocol code.</summary>
    /// <param name="code">The error code.</param>
    /// <param name="message">The error message.</param>
    /// <param name="temporary">Whether trying again later may succeed.</param>
    public SwitchboardException(uint code, string message, bool temporary = false)
        : base(message)
    {
        Code = code;
        Temporary = temporary;
    }

    /// <summary>Creates an exception with code 0 (required by the exception pattern).</summary>
    public SwitchboardException()
        : this(0, "Switchboard error")
    {
    }

    /// <summary>Creates an exception with code 0 and a message.</summary>
    /// <param name="message">The error message.</param>
    public SwitchboardException(string message)
        : this(0, message)
    {
    }

    /// <summary>Creates an exception with code 0, a message and a cause.</summary>
    /// <param name="message">The error message.</param>
    /// <param name="innerException">The cause.</param>
    public SwitchboardException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The error code: a server reply code, or a client code from <see cref="ErrorCodes"/>.</summary>
    public uint Code { get; }

    /// <summary>True when trying again later may succeed.</summary>
    public bool Temporary { get; }
}
